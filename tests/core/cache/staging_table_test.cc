#include "server/core/cache/staging_table.h"

#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/core/format/header.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

constexpr char kId[] = "0123456789abcdef0123456789abcdef";
constexpr char kOther[] = "fedcba9876543210fedcba9876543210";

class StagingTableTest : public ::testing::Test {
 protected:
  std::shared_ptr<Segment> Make(const std::string& name) {
    absl::StatusOr<SegmentHeader> header =
        MakeStagingHeader(name, {8}, DType::kInt64, "");
    EXPECT_TRUE(header.ok());
    absl::StatusOr<Segment> segment =
        Segment::Create(absl::StrCat(dir_.path(), "/", name), *header, 0600,
                        Segment::Prefault::kNo);
    EXPECT_TRUE(segment.ok()) << segment.status();
    return std::make_shared<Segment>(*std::move(segment));
  }

  testing::ScopedTempDir dir_;
};

TEST_F(StagingTableTest, CountsWritesBeingCreatedAndStaging) {
  StagingTable table;
  table.BeginCreating(64);
  EXPECT_EQ(table.count(), 1);
  EXPECT_EQ(table.data_bytes(), 64);
  table.FinishCreating(64, kId, Make("a"), absl::InfiniteFuture(), Retention());
  EXPECT_EQ(table.count(), 1);
  EXPECT_EQ(table.data_bytes(), 64);
  table.BeginCreating(64);
  table.FinishCreating(64, kOther, nullptr, absl::InfiniteFuture(), Retention());
  EXPECT_EQ(table.count(), 1);  // a failed creation leaves nothing
}

TEST_F(StagingTableTest, HandsOutAFileOnceAndNotWhileCommitting) {
  StagingTable table;
  table.BeginCreating(64);
  table.FinishCreating(64, kId, Make("a"), absl::InfiniteFuture(), Retention());
  absl::StatusOr<int> fd = table.HandOut(kId, 1234);
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  EXPECT_TRUE(absl::IsFailedPrecondition(table.HandOut(kId, 1234).status()));
  EXPECT_TRUE(absl::IsNotFound(table.HandOut(kOther, 1).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(table.HandOut("nope", 1).status()));
}

TEST_F(StagingTableTest, CommitTakesTheWriteAndItsRetention) {
  StagingTable table;
  Retention retention;
  retention.pinned = true;
  table.BeginCreating(64);
  table.FinishCreating(64, kId, Make("a"), absl::InfiniteFuture(), retention);
  ASSERT_TRUE(table.StartCommit(kId).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(table.StartCommit(kId).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(table.Remove(kId).status()));
  EXPECT_TRUE(table.TakeExpired(absl::InfiniteFuture()).empty());
  EXPECT_TRUE(table.FinishCommit(kId).pinned);
  EXPECT_EQ(table.count(), 0);
  EXPECT_TRUE(absl::IsNotFound(table.StartCommit(kId).status()));
}

TEST_F(StagingTableTest, LeasesExpireUnlessRenewed) {
  StagingTable table;
  const absl::Time now = absl::FromUnixSeconds(1000);
  for (const char* id : {kId, kOther}) {
    table.BeginCreating(64);
    table.FinishCreating(64, id, Make(id), now, Retention());
  }
  ASSERT_TRUE(table.Renew(kId, now + absl::Seconds(10)).ok());
  std::vector<std::shared_ptr<Segment>> expired =
      table.TakeExpired(now + absl::Seconds(1));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0]->header().name, kOther);
  EXPECT_TRUE(absl::IsNotFound(table.Renew(kOther, now)));
  ASSERT_TRUE(table.Remove(kId).ok());
  EXPECT_EQ(table.count(), 0);
}

TEST_F(StagingTableTest, UnlinkAllRemovesTheFiles) {
  StagingTable table;
  table.BeginCreating(64);
  table.FinishCreating(64, kId, Make("a"), absl::InfiniteFuture(), Retention());
  ASSERT_EQ(dir_.Entries().size(), 1u);
  table.UnlinkAll();
  EXPECT_TRUE(dir_.Entries().empty());
  EXPECT_EQ(table.count(), 0);
}

}  // namespace
}  // namespace matcache
