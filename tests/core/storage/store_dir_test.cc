#include "server/core/storage/store_dir.h"

#include <sys/stat.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

TEST(StoreDirTest, AnOwnDirectoryIsUsedAsItIs) {
  testing::ScopedTempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0700), 0);
  absl::StatusOr<std::string> own = OpenStoreDirectory(dir.path(), "t", std::nullopt);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_TRUE(dir.Entries().empty());
}

TEST(StoreDirTest, ASharedStickyDirectoryGetsASubdirectoryOfItsOwn) {
  testing::ScopedTempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 01777), 0);
  absl::StatusOr<std::string> own = OpenStoreDirectory(dir.path(), "t", std::nullopt);
  ASSERT_TRUE(own.ok()) << own.status();
  EXPECT_EQ(own->substr(own->size() - 2), "/t");
  struct stat st;
  ASSERT_EQ(stat(own->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
}

TEST(StoreDirTest, ASharedDirectoryThatIsNotStickyIsRefused) {
  testing::ScopedTempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      OpenStoreDirectory(dir.path(), "t", std::nullopt).status()));
  EXPECT_TRUE(absl::IsNotFound(
      OpenStoreDirectory(dir.path() + "/missing", "t", std::nullopt).status()));
}

TEST(StoreDirTest, OneLockPerNamespace) {
  testing::ScopedTempDir dir;
  absl::StatusOr<NamespaceLock> first =
      NamespaceLock::Acquire(dir.path(), "t", absl::ZeroDuration());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(absl::IsFailedPrecondition(
      NamespaceLock::Acquire(dir.path(), "t", absl::Milliseconds(100)).status()));
  EXPECT_TRUE(NamespaceLock::Acquire(dir.path(), "u", absl::ZeroDuration()).ok());
  { NamespaceLock released = *std::move(first); }
  EXPECT_TRUE(NamespaceLock::Acquire(dir.path(), "t", absl::ZeroDuration()).ok());
}

}  // namespace
}  // namespace matcache
