#include "server/core/cache/persister.h"

#include <limits.h>
#include <stdlib.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/format/header.h"
#include "server/core/format/npy.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

class PersisterTest : public ::testing::Test {
 protected:
  std::string Dir() {
    char resolved[PATH_MAX];
    EXPECT_NE(realpath(dir_.path().c_str(), resolved), nullptr);
    return resolved;
  }
  // A sealed int64 segment of 0, 1, 2, 3 named `name`, in the shm dir.
  Segment Make(const std::string& name) {
    absl::StatusOr<SegmentHeader> header =
        MakeStagingHeader(name, {4}, DType::kInt64, "");
    EXPECT_TRUE(header.ok());
    absl::StatusOr<Segment> segment = Segment::Create(
        absl::StrCat(shm_.path(), "/", name), *header, 0600, Segment::Prefault::kNo);
    EXPECT_TRUE(segment.ok()) << segment.status();
    for (int64_t i = 0; i < 4; ++i) {
      reinterpret_cast<int64_t*>(segment->mutable_data())[i] = i;
    }
    const absl::Status sealed =
        segment->Seal(absl::StrCat(shm_.path(), "/", name, ".1.shm"), 1,
                      segment->ComputeChecksum(), 0400);
    EXPECT_TRUE(sealed.ok()) << sealed;
    return *std::move(segment);
  }
  std::string Read(const std::string& path) {
    std::ifstream file(path);
    std::stringstream text;
    text << file.rdbuf();
    return text.str();
  }

  testing::ScopedTempDir dir_;
  testing::ScopedTempDir shm_;
};

TEST_F(PersisterTest, WritesANpyAsideThenInstallsIt) {
  Segment segment = Make("m");
  absl::StatusOr<std::string> aside = Persister::WriteAside(Dir(), segment);
  ASSERT_TRUE(aside.ok()) << aside.status();
  EXPECT_TRUE(Persister::Scan(Dir()).empty());  // an aside file is removed
  aside = Persister::WriteAside(Dir(), segment);
  ASSERT_TRUE(aside.ok());
  absl::StatusOr<std::string> path = Persister::Install(Dir(), *aside, "m");
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, Dir() + "/m.npy");
  const std::string text = Read(*path);
  const std::string header = NpyHeaderFor(DType::kInt64, {4});
  ASSERT_EQ(text.size(), header.size() + 32);
  EXPECT_EQ(text.substr(0, header.size()), header);
  EXPECT_THAT(Persister::Scan(Dir()), ElementsAre(Pair("m", *path)));
}

TEST_F(PersisterTest, MetaRoundTripsAndGoesWithRemove) {
  Persister persister(Dir());
  PersistedMeta meta;
  meta.retention.pinned = true;
  meta.retention.expires = absl::FromUnixSeconds(5000);
  meta.original_dtype = DType::kFloat32;
  ASSERT_TRUE(persister.WriteMeta("m", meta).ok());
  ASSERT_NE(persister.Meta("m"), nullptr);
  std::optional<PersistedMeta> read = Persister::ReadMeta(Dir(), "m");
  ASSERT_TRUE(read.has_value());
  EXPECT_TRUE(read->retention.pinned);
  EXPECT_EQ(read->retention.expires, absl::FromUnixSeconds(5000));
  EXPECT_EQ(read->original_dtype, DType::kFloat32);
  Persister adopted(Dir());
  adopted.Adopt("m", *read);
  EXPECT_TRUE(adopted.Meta("m")->retention.pinned);
  persister.Remove("m");
  EXPECT_EQ(persister.Meta("m"), nullptr);
  EXPECT_FALSE(Persister::ReadMeta(Dir(), "m").has_value());
}

TEST_F(PersisterTest, WithoutADirectoryNothingIsRecorded) {
  Persister persister("");
  EXPECT_FALSE(persister.enabled());
  ASSERT_TRUE(persister.WriteMeta("m", PersistedMeta()).ok());
  EXPECT_EQ(persister.Meta("m"), nullptr);
}

}  // namespace
}  // namespace matcache
