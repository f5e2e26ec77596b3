#include "server/core/cache/sources.h"

#include <limits.h>
#include <stdlib.h>

#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/core/format/npy.h"
#include "server/core/storage/atomic_file.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

class SourcesTest : public ::testing::Test {
 protected:
  std::string Root() {
    char resolved[PATH_MAX];
    EXPECT_NE(realpath(dir_.path().c_str(), resolved), nullptr);
    return resolved;
  }
  std::string File() { return absl::StrCat(Root(), "/t.sources"); }
  std::string FileText() {
    absl::StatusOr<std::optional<std::string>> text = ReadOwnFile(File());
    return text.ok() ? text->value_or("") : "";
  }

  testing::ScopedTempDir dir_;
};

TEST_F(SourcesTest, SetRewritesTheFileOnlyOnChange) {
  Sources sources(File());
  sources.Set("a", "/x/a.npy");
  sources.Set("b", "/x/b.npy");
  EXPECT_EQ(FileText(), "a\t/x/a.npy\nb\t/x/b.npy\n");
  ASSERT_NE(sources.Find("a"), nullptr);
  EXPECT_EQ(*sources.Find("a"), "/x/a.npy");
  sources.Set("a", "");
  EXPECT_FALSE(sources.Contains("a"));
  EXPECT_EQ(FileText(), "b\t/x/b.npy\n");
}

TEST_F(SourcesTest, RestoreKeepsTheRecoveredSourcesAndSkipsMalformedLines) {
  Sources sources(File());
  sources.Restore({{"a", "/recovered/a.npy"}},
                  "a\t/file/a.npy\nb\t/file/b.npy\nno tab here\n..bad\t/x\n");
  EXPECT_EQ(*sources.Find("a"), "/recovered/a.npy");
  EXPECT_EQ(*sources.Find("b"), "/file/b.npy");
  EXPECT_EQ(sources.paths().size(), 2u);
  EXPECT_EQ(FileText(), "");  // not rewritten
}

TEST_F(SourcesTest, UnreadInfoIsForgottenWithTheSource) {
  Sources sources(File());
  sources.Set("a", "/x/a.npy");
  MatrixInfo info;
  info.nbytes = 24;
  sources.SetUnread("a", info);
  EXPECT_EQ(sources.Unread("a").nbytes, 24);
  sources.Set("a", "");
  EXPECT_EQ(sources.Unread("a").nbytes, 0);
}

TEST_F(SourcesTest, DescribeReadsTheHeaderBeneathTheRoots) {
  const std::string path = absl::StrCat(Root(), "/m.npy");
  std::ofstream(path) << NpyHeaderFor(DType::kInt32, {2, 3})
                      << std::string(24, '\0');
  absl::StatusOr<MatrixInfo> info = DescribeSource({Root()}, "m", path);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(info->nbytes, 24);
  EXPECT_EQ(info->generation, 0u);
  EXPECT_EQ(info->source, path);
  EXPECT_TRUE(absl::IsPermissionDenied(
      DescribeSource({"/nonexistent"}, "m", path).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(CheckSourcePath("/a\nb")));
}

TEST_F(SourcesTest, OneLoadAtATimeAndWaitersWake) {
  Sources sources(File());
  absl::Mutex mu;
  absl::Notification waiting;
  bool second_started = false;
  {
    absl::MutexLock lock(&mu);
    ASSERT_TRUE(sources.StartLoad("a"));
    EXPECT_FALSE(sources.StartLoad("a"));
    EXPECT_TRUE(sources.StartLoad("b"));
  }
  std::thread waiter([&] {
    absl::MutexLock lock(&mu);
    waiting.Notify();
    while (!sources.StartLoad("a")) sources.WaitForLoad(&mu);
    second_started = true;
  });
  waiting.WaitForNotification();
  {
    absl::MutexLock lock(&mu);
    EXPECT_FALSE(second_started);
    sources.FinishLoad("a");
  }
  waiter.join();
  EXPECT_TRUE(second_started);
}

}  // namespace
}  // namespace matcache
