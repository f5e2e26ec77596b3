#include "server/watch/watch_hub.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/cache/store.h"
#include "tests/support/store_test_base.h"

namespace matcache {
namespace {

using Kind = WatchEvent::Kind;

class WatchHubTest : public testing::StoreTestBase {
 protected:
  void SetUp() override {
    store_ = OpenStore();
    ASSERT_NE(store_, nullptr);
  }

  // A hub listening to store_ with queues of `queue_events`.
  std::unique_ptr<WatchHub> MakeHub(size_t queue_events = 1024) {
    auto hub = std::make_unique<WatchHub>(store_.get(), queue_events);
    store_->AddListener(hub.get());
    return hub;
  }

  // A watcher of every name, without snapshot, that notifies `woken` when
  // it is first woken.
  std::unique_ptr<Watcher> WatchNotifying(absl::Notification* woken) {
    absl::StatusOr<std::unique_ptr<Watcher>> watcher =
        hub_->Watch("", false, [woken] {
          if (!woken->HasBeenNotified()) woken->Notify();
        });
    EXPECT_TRUE(watcher.ok()) << watcher.status();
    return watcher.ok() ? *std::move(watcher) : nullptr;
  }

  // Every event `watcher` has now (a failure fails the test).
  static std::vector<std::shared_ptr<const WatchEvent>> Drain(Watcher& watcher) {
    std::vector<std::shared_ptr<const WatchEvent>> events;
    while (true) {
      absl::StatusOr<std::shared_ptr<const WatchEvent>> next = watcher.Next();
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok() || *next == nullptr) return events;
      events.push_back(*std::move(next));
    }
  }

  // The hub is destroyed after the store, as in the server: it outlives
  // the store's list of listeners.
  std::unique_ptr<WatchHub> hub_;
  std::unique_ptr<Store> store_;
};

TEST_F(WatchHubTest, TellsEachChangeOfMatchingNamesInCommitOrder) {
  hub_ = MakeHub();
  absl::StatusOr<std::unique_ptr<Watcher>> watcher = hub_->Watch("m.", false, [] {});
  ASSERT_TRUE(watcher.ok());
  absl::StatusOr<MatrixInfo> first = PutFilled(*store_, "m.a", 1);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(PutFilled(*store_, "other", 2).ok());  // not under the prefix
  absl::StatusOr<MatrixInfo> second = PutFilled(*store_, "m.a", 3);
  ASSERT_TRUE(second.ok());
  ASSERT_TRUE(PutFilled(*store_, "m.b", 4).ok());
  ASSERT_TRUE(store_->Delete("m.a").ok());

  std::vector<std::shared_ptr<const WatchEvent>> events = Drain(**watcher);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]->kind, Kind::kPut);
  EXPECT_EQ(events[0]->reason, ChangeReason::kPut);
  EXPECT_EQ(events[0]->name, "m.a");
  EXPECT_EQ(events[0]->generation, first->generation);
  EXPECT_EQ(events[0]->info.id, first->id);
  EXPECT_EQ(events[1]->generation, second->generation);
  EXPECT_EQ(events[2]->name, "m.b");
  EXPECT_EQ(events[3]->kind, Kind::kDelete);
  EXPECT_EQ(events[3]->reason, ChangeReason::kDelete);
  EXPECT_EQ(events[3]->generation, second->generation);
  // "other" was the second change of the store.
  EXPECT_EQ(events[0]->sequence, 1u);
  EXPECT_EQ(events[1]->sequence, 3u);
  EXPECT_EQ(events[3]->sequence, 5u);
}

TEST_F(WatchHubTest, ConcurrentPutsArriveInTheOrderTheStoreCommittedThem) {
  hub_ = MakeHub(1 << 16);
  absl::StatusOr<std::unique_ptr<Watcher>> watcher = hub_->Watch("", false, [] {});
  ASSERT_TRUE(watcher.ok());
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([this, t] {
      for (int i = 0; i < 50; ++i) {
        EXPECT_TRUE(PutFilled(*store_, absl::StrCat("w", t, "-", i % 3), i).ok());
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  std::vector<std::shared_ptr<const WatchEvent>> events = Drain(**watcher);
  ASSERT_EQ(events.size(), 200u);
  // Each change exactly once, in commit order; generations, assigned as
  // each commit publishes, grow the same way.
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i]->sequence, i + 1);
    if (i > 0) {
      EXPECT_GT(events[i]->generation, events[i - 1]->generation);
    }
  }
}

TEST_F(WatchHubTest, WakesAWaitingConsumerOnTheNextEvent) {
  hub_ = MakeHub();
  absl::Notification woken;
  std::unique_ptr<Watcher> watcher = WatchNotifying(&woken);
  ASSERT_NE(watcher, nullptr);
  absl::StatusOr<std::shared_ptr<const WatchEvent>> none = watcher->Next();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, nullptr);
  ASSERT_TRUE(PutFilled(*store_, "a", 1).ok());
  woken.WaitForNotification();
  absl::StatusOr<std::shared_ptr<const WatchEvent>> next = watcher->Next();
  ASSERT_TRUE(next.ok());
  ASSERT_NE(*next, nullptr);
  EXPECT_EQ((*next)->name, "a");
}

TEST_F(WatchHubTest, AWatcherThatFallsBehindIsDroppedAndItsQueueEmptied) {
  hub_ = MakeHub(/*queue_events=*/4);
  absl::Notification woken;
  std::unique_ptr<Watcher> slow = WatchNotifying(&woken);
  ASSERT_NE(slow, nullptr);
  absl::StatusOr<std::unique_ptr<Watcher>> other = hub_->Watch("x", false, [] {});
  ASSERT_TRUE(other.ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(PutFilled(*store_, "a", i).ok());
  EXPECT_EQ(hub_->counts().dropped, 0);
  ASSERT_TRUE(PutFilled(*store_, "a", 4).ok());  // the fifth: one too many
  woken.WaitForNotification();  // the consumer learns without asking
  EXPECT_EQ(hub_->counts().dropped, 1);
  EXPECT_EQ(hub_->counts().watchers, 1);  // the other one
  absl::StatusOr<std::shared_ptr<const WatchEvent>> next = slow->Next();
  EXPECT_TRUE(absl::IsAborted(next.status())) << next.status();
  EXPECT_THAT(std::string(next.status().message()),
              ::testing::HasSubstr("list the matrices again"));
  // A put is never held up by a dropped watcher, nor queued for it.
  ASSERT_TRUE(PutFilled(*store_, "a", 5).ok());
  EXPECT_TRUE(absl::IsAborted(slow->Next().status()));
}

TEST_F(WatchHubTest, InitialSnapshotThenOnlyTheChangesAfterIt) {
  hub_ = MakeHub();
  absl::StatusOr<MatrixInfo> a = PutFilled(*store_, "a", 1);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(PutFilled(*store_, "b", 2).ok());
  ASSERT_TRUE(PutFilled(*store_, "c", 3).ok());
  ASSERT_TRUE(store_->Delete("c").ok());
  absl::StatusOr<std::unique_ptr<Watcher>> watcher = hub_->Watch("", true, [] {});
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE(store_->Delete("a").ok());
  std::vector<std::shared_ptr<const WatchEvent>> events = Drain(**watcher);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0]->kind, Kind::kPut);
  EXPECT_EQ(events[0]->reason, std::nullopt);
  EXPECT_EQ(events[0]->name, "a");
  EXPECT_EQ(events[0]->info.id, a->id);
  EXPECT_EQ(events[1]->name, "b");
  EXPECT_EQ(events[2]->kind, Kind::kSnapshotComplete);
  EXPECT_EQ(events[2]->sequence, 4u);  // three puts and a delete
  EXPECT_EQ(events[3]->kind, Kind::kDelete);
  EXPECT_EQ(events[3]->name, "a");
  EXPECT_EQ(events[3]->sequence, 5u);
}

// Watchers start with snapshots while writers put and delete: each one's
// snapshot plus its events must rebuild exactly what the store holds at the
// end, with every change after its snapshot once and in order.
TEST_F(WatchHubTest, SnapshotsTakenDuringChangesLoseNothingAndRepeatNothing) {
  hub_ = MakeHub(1 << 16);
  constexpr int kWriters = 2, kChanges = 200, kWatchers = 20;
  std::atomic<int> made{0};  // changes made so far, by all writers
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([this, t, &made] {
      for (int i = 0; i < kChanges; ++i) {
        const std::string name = absl::StrCat("n", (t * 7 + i) % 6);
        if (i % 4 == 3) {
          absl::Status deleted = store_->Delete(name);
          EXPECT_TRUE(deleted.ok() || absl::IsNotFound(deleted)) << deleted;
        } else {
          EXPECT_TRUE(PutFilled(*store_, name, i).ok());
        }
        made.fetch_add(1);
      }
    });
  }
  // One watcher every few changes, spread over the writers' run.
  std::vector<std::unique_ptr<Watcher>> watchers;
  for (int w = 0; w < kWatchers; ++w) {
    while (made.load() < w * kWriters * kChanges / kWatchers) std::this_thread::yield();
    absl::StatusOr<std::unique_ptr<Watcher>> watcher = hub_->Watch("n", true, [] {});
    ASSERT_TRUE(watcher.ok());
    watchers.push_back(*std::move(watcher));
  }
  for (std::thread& writer : writers) writer.join();

  std::map<std::string, uint64_t> expected;
  for (const MatrixInfo& info : store_->List("n")) expected[info.name] = info.generation;
  for (const std::unique_ptr<Watcher>& watcher : watchers) {
    std::map<std::string, uint64_t> rebuilt;
    uint64_t last = 0;
    bool snapshot_done = false;
    for (const std::shared_ptr<const WatchEvent>& event : Drain(*watcher)) {
      if (event->kind == Kind::kSnapshotComplete) {
        snapshot_done = true;
        last = event->sequence;
        continue;
      }
      if (!snapshot_done) {
        rebuilt[event->name] = event->generation;
        continue;
      }
      EXPECT_GT(event->sequence, last);  // after the snapshot, in order
      last = event->sequence;
      if (event->kind == Kind::kPut) {
        rebuilt[event->name] = event->generation;
      } else {
        ASSERT_EQ(rebuilt.count(event->name), 1u) << event->name;
        EXPECT_EQ(rebuilt[event->name], event->generation);
        rebuilt.erase(event->name);
      }
    }
    EXPECT_TRUE(snapshot_done);
    EXPECT_EQ(rebuilt, expected);
  }
}

TEST_F(WatchHubTest, CloseEndsEveryWatcherAndRefusesNewOnes) {
  hub_ = MakeHub();
  absl::Notification woken;
  std::unique_ptr<Watcher> watcher = WatchNotifying(&woken);
  ASSERT_NE(watcher, nullptr);
  hub_->Close();
  woken.WaitForNotification();
  EXPECT_TRUE(absl::IsUnavailable(watcher->Next().status()));
  EXPECT_TRUE(absl::IsUnavailable(hub_->Watch("", false, [] {}).status()));
  EXPECT_EQ(hub_->counts().watchers, 0);
  EXPECT_EQ(hub_->counts().dropped, 0);
}

TEST_F(WatchHubTest, DestroyingAWatcherWaitsOutItsWakeAndEndsThem) {
  hub_ = MakeHub();
  absl::Notification in_wake, release;
  std::atomic<int> wakes{0};
  std::atomic<bool> wake_done{false};
  absl::StatusOr<std::unique_ptr<Watcher>> watcher = hub_->Watch("", false, [&] {
    if (wakes.fetch_add(1) > 0) return;
    in_wake.Notify();
    release.WaitForNotification();
    wake_done.store(true);
  });
  ASSERT_TRUE(watcher.ok());
  ASSERT_TRUE((*watcher)->Next().ok());  // nothing yet: wake me
  ASSERT_TRUE(PutFilled(*store_, "a", 1).ok());
  in_wake.WaitForNotification();
  std::thread destroyer([&] {
    watcher->reset();
    EXPECT_TRUE(wake_done.load());  // reset returned after the wake did
  });
  release.Notify();
  destroyer.join();
  // Later changes wake the others only: once the hub's thread has woken a
  // watcher started after, it is past any wake of the destroyed one.
  absl::Notification woken;
  std::unique_ptr<Watcher> next = WatchNotifying(&woken);
  ASSERT_NE(next, nullptr);
  ASSERT_TRUE(next->Next().ok());
  ASSERT_TRUE(PutFilled(*store_, "b", 2).ok());
  woken.WaitForNotification();
  EXPECT_EQ(wakes.load(), 1);
  EXPECT_EQ(hub_->counts().watchers, 1);
}

}  // namespace
}  // namespace matcache
