#include "server/core/cache/catalogue.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/cache/store.h"
#include "tests/support/store_test_base.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;

// Records every change, with what Info said of its name at the time.
class Recorder : public CatalogueListener {
 public:
  explicit Recorder(Store* store = nullptr) : store_(store) {}

  void OnChange(const CatalogueChange& change) override {
    std::string seen = "-";
    if (store_ != nullptr) {
      absl::StatusOr<MatrixInfo> info = store_->Info(change.name);
      seen = !info.ok() ? "none"
             : info->generation == change.generation
                 ? "this"
                 : std::to_string(info->generation);
    }
    changes.push_back(absl::StrCat(Reason(change.reason), " ", change.name,
                                   " ", change.generation, " info=", seen));
  }

  static const char* Reason(ChangeReason reason) {
    switch (reason) {
      case ChangeReason::kPut: return "put";
      case ChangeReason::kLoad: return "load";
      case ChangeReason::kDelete: return "delete";
      case ChangeReason::kEviction: return "eviction";
      case ChangeReason::kExpiry: return "expiry";
    }
    return "?";
  }

  std::vector<std::string> changes;

 private:
  Store* const store_;
};

class CatalogueTest : public testing::StoreTestBase {
 protected:
  // A sealed segment of `name` at `generation`.
  std::shared_ptr<const Segment> Make(const std::string& name,
                                      uint64_t generation) {
    absl::StatusOr<SegmentHeader> header =
        MakeStagingHeader(name, {4}, DType::kInt64, "");
    EXPECT_TRUE(header.ok());
    absl::StatusOr<Segment> segment =
        Segment::Create(PathOf(absl::StrCat(name, ".staging")), *header, 0600,
                        Segment::Prefault::kNo, std::nullopt);
    EXPECT_TRUE(segment.ok()) << segment.status();
    EXPECT_TRUE(segment->Freeze().ok());
    EXPECT_TRUE(segment
                    ->Seal(PathOf(absl::StrCat(name, ".", generation)),
                           generation, segment->ComputeChecksum(1), 0400)
                    .ok());
    return std::make_shared<const Segment>(*std::move(segment));
  }

  // Publishes `segment` in `catalogue`, last accessed `now`.
  static std::shared_ptr<const Segment> Publish(
      Catalogue* catalogue, std::shared_ptr<const Segment> segment,
      ChangeReason reason, absl::Time now) {
    MatrixInfo info = DescribeSegment(*segment);
    info.last_access = now;
    return catalogue->Publish(std::move(segment), reason, std::move(info));
  }
};

TEST_F(CatalogueTest, PublishReplacesAndLookupCountsHitsAndMisses) {
  Catalogue catalogue;
  EXPECT_EQ(Publish(&catalogue, Make("a", 1), ChangeReason::kPut, absl::Now()),
            nullptr);
  std::shared_ptr<const Segment> second = Make("a", 2);
  std::shared_ptr<const Segment> first =
      Publish(&catalogue, second, ChangeReason::kPut, absl::Now());
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->header().generation, 1u);
  EXPECT_EQ(*catalogue.Lookup("a", 0), second);
  EXPECT_TRUE(absl::IsFailedPrecondition(catalogue.Lookup("a", 1).status()));
  EXPECT_TRUE(absl::IsNotFound(catalogue.Lookup("b", 0).status()));
  EXPECT_EQ(catalogue.hits(), 1);
  EXPECT_EQ(catalogue.misses(), 1);
  EXPECT_EQ(catalogue.Find("b"), nullptr);
  EXPECT_EQ(catalogue.misses(), 1);  // Find is no lookup
}

TEST_F(CatalogueTest, DataBytesFollowEveryChange) {
  Catalogue catalogue;
  catalogue.Restore(Make("r", 1), absl::Now());  // 4 int64s each
  EXPECT_EQ(catalogue.data_bytes(), 32);
  Publish(&catalogue, Make("a", 2), ChangeReason::kPut, absl::Now());
  EXPECT_EQ(catalogue.data_bytes(), 64);
  Publish(&catalogue, Make("a", 3), ChangeReason::kPut, absl::Now());
  EXPECT_EQ(catalogue.data_bytes(), 64);  // replaced
  catalogue.Remove("r", ChangeReason::kEviction);
  EXPECT_EQ(catalogue.data_bytes(), 32);
  catalogue.Remove("a", ChangeReason::kDelete);
  EXPECT_EQ(catalogue.data_bytes(), 0);
}

TEST_F(CatalogueTest, RemembersLastAccessAndForgetsItOnRemoval) {
  Catalogue catalogue;
  const absl::Time then = absl::FromUnixSeconds(1000);
  Publish(&catalogue, Make("a", 1), ChangeReason::kPut, then);
  EXPECT_EQ(catalogue.last_access("a"), then);
  ASSERT_TRUE(catalogue.Lookup("a", 0).ok());
  EXPECT_GT(catalogue.last_access("a"), then);
  EXPECT_EQ(catalogue.Remove("a", ChangeReason::kDelete)->header().generation, 1u);
  EXPECT_EQ(catalogue.last_access("a"), absl::InfinitePast());
  EXPECT_TRUE(catalogue.versions().empty());
}

TEST_F(CatalogueTest, RecordsEveryChangeInOrderWithItsReason) {
  Catalogue catalogue;
  Recorder recorder;
  catalogue.AddListener(&recorder);
  catalogue.Restore(Make("old", 1), absl::Now());  // not a change
  Publish(&catalogue, Make("a", 2), ChangeReason::kPut, absl::Now());
  Publish(&catalogue, Make("b", 3), ChangeReason::kLoad, absl::Now());
  catalogue.Remove("a", ChangeReason::kEviction);
  catalogue.Remove("b", ChangeReason::kExpiry);
  catalogue.Remove("old", ChangeReason::kDelete);
  std::vector<CatalogueChange> changes;
  ASSERT_TRUE(catalogue.TakeChanges(false, &changes));
  for (const CatalogueChange& change : changes) recorder.OnChange(change);
  EXPECT_THAT(recorder.changes,
              ElementsAre("put a 2 info=-", "load b 3 info=-",
                          "eviction a 2 info=-", "expiry b 3 info=-",
                          "delete old 1 info=-"));
  EXPECT_NE(changes[0].segment, nullptr);
  EXPECT_EQ(changes[0].info.name, "a");
  EXPECT_EQ(changes[0].info.generation, 2u);
  EXPECT_EQ(changes[2].segment, nullptr);
  for (size_t i = 0; i < changes.size(); ++i) {
    EXPECT_EQ(changes[i].sequence, i + 1);
  }
  EXPECT_EQ(catalogue.last_sequence(), 5u);
  EXPECT_EQ(catalogue.changes(ChangeReason::kEviction), 1);
  // Delivered: nothing left, and the delivery is over.
  EXPECT_FALSE(catalogue.TakeChanges(true, &changes));
}

TEST_F(CatalogueTest, OneCallerDeliversAtATime) {
  Catalogue catalogue;
  Recorder recorder;
  catalogue.AddListener(&recorder);
  Publish(&catalogue, Make("a", 1), ChangeReason::kPut, absl::Now());
  std::vector<CatalogueChange> first, second;
  ASSERT_TRUE(catalogue.TakeChanges(false, &first));
  Publish(&catalogue, Make("b", 2), ChangeReason::kPut, absl::Now());
  // Another caller leaves b to the one delivering, who takes it next.
  EXPECT_FALSE(catalogue.TakeChanges(false, &second));
  ASSERT_TRUE(catalogue.TakeChanges(true, &second));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].name, "b");
  EXPECT_FALSE(catalogue.TakeChanges(true, &second));
  EXPECT_FALSE(catalogue.TakeChanges(false, &second));
}

TEST_F(CatalogueTest, StoreTellsListenersAfterInfoSeesTheChangeInCommitOrder) {
  StoreOptions options = Options();
  options.max_bytes = 3 * (4096 + kCount * 8);
  options.evict_unsourced = true;
  std::unique_ptr<Store> store = OpenStore(options);
  ASSERT_NE(store, nullptr);
  Recorder recorder(store.get());
  store->AddListener(&recorder);
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  ASSERT_TRUE(PutFilled(*store, "a", 2).ok());
  ASSERT_TRUE(PutFilled(*store, "b", 3).ok());
  ASSERT_TRUE(PutFilled(*store, "c", 4).ok());
  ASSERT_TRUE(PutFilled(*store, "d", 5).ok());  // evicts a, the oldest
  ASSERT_TRUE(store->Delete("b").ok());
  ASSERT_EQ(recorder.changes.size(), 7u);
  EXPECT_THAT(recorder.changes[0], ::testing::MatchesRegex("put a ([0-9]+) info=this"));
  EXPECT_THAT(recorder.changes[1], ::testing::MatchesRegex("put a ([0-9]+) info=this"));
  EXPECT_THAT(recorder.changes[2], ::testing::MatchesRegex("put b ([0-9]+) info=this"));
  EXPECT_THAT(recorder.changes[3], ::testing::MatchesRegex("put c ([0-9]+) info=this"));
  EXPECT_THAT(recorder.changes[4], ::testing::MatchesRegex("eviction a [0-9]+ info=none"));
  EXPECT_THAT(recorder.changes[5], ::testing::MatchesRegex("put d ([0-9]+) info=this"));
  EXPECT_THAT(recorder.changes[6], ::testing::MatchesRegex("delete b [0-9]+ info=none"));
}

TEST_F(CatalogueTest, StoreReportsExpiry) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  Recorder recorder(store.get());
  store->AddListener(&recorder);
  Retention retention;
  retention.expires = absl::Now() - absl::Seconds(1);
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("e", {kCount}, DType::kInt64, Segment::Prefault::kNo,
                        absl::InfiniteFuture(), retention);
  ASSERT_TRUE(write.ok());
  ASSERT_TRUE(store->Commit(write->write_id).ok());
  EXPECT_EQ(store->DeleteExpired(absl::Now()), 1);
  ASSERT_EQ(recorder.changes.size(), 2u);
  EXPECT_THAT(recorder.changes[1], ::testing::MatchesRegex("expiry e [0-9]+ info=none"));
}

TEST_F(CatalogueTest, StoreTellsWhatInfoSaysOfEachPublishedVersion) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  std::vector<CatalogueChange> told;
  class Keeper : public CatalogueListener {
   public:
    explicit Keeper(std::vector<CatalogueChange>* told) : told_(told) {}
    void OnChange(const CatalogueChange& change) override {
      told_->push_back(change);
    }

   private:
    std::vector<CatalogueChange>* const told_;
  } keeper(&told);
  store->AddListener(&keeper);
  Retention retention;
  retention.pinned = true;
  retention.expires = absl::Now() + absl::Hours(1);
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("p", {kCount}, DType::kInt64, Segment::Prefault::kNo,
                        absl::InfiniteFuture(), retention);
  ASSERT_TRUE(write.ok());
  absl::StatusOr<MatrixInfo> committed = store->Commit(write->write_id);
  ASSERT_TRUE(committed.ok());
  ASSERT_EQ(told.size(), 1u);
  const MatrixInfo& info = told[0].info;
  EXPECT_EQ(info.generation, committed->generation);
  EXPECT_EQ(info.id, committed->id);
  EXPECT_EQ(info.path, committed->path);
  EXPECT_TRUE(info.pinned);
  EXPECT_EQ(info.expires, committed->expires);
  EXPECT_EQ(info.last_access, committed->last_access);
}

TEST_F(CatalogueTest, SnapshotHoldsThePublishedVersionsAndTheLastChange) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->Snapshot("").sequence, 0u);
  ASSERT_TRUE(PutFilled(*store, "x.b", 1).ok());
  ASSERT_TRUE(PutFilled(*store, "x.a", 2).ok());
  ASSERT_TRUE(PutFilled(*store, "y", 3).ok());
  ASSERT_TRUE(store->Delete("y").ok());
  const int64_t hits = store->Stats().hits;
  CatalogueSnapshot snapshot = store->Snapshot("x.");
  ASSERT_EQ(snapshot.matrices.size(), 2u);
  EXPECT_EQ(snapshot.matrices[0].name, "x.a");
  EXPECT_EQ(snapshot.matrices[1].name, "x.b");
  EXPECT_EQ(snapshot.sequence, 4u);  // three puts and a delete
  EXPECT_EQ(store->Stats().hits, hits);  // no lookups
  EXPECT_TRUE(store->Snapshot("z").matrices.empty());
}

}  // namespace
}  // namespace matcache
