#include "server/core/cache/spare_pool.h"

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

class SparePoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<SparePool> MakePool(int64_t max_bytes, absl::Duration idle) {
    SparePool::Options options;
    options.max_bytes = max_bytes;
    options.idle = idle;
    options.dir = dir_.path();
    options.new_path = [this] { return absl::StrCat(dir_.path(), "/s", ++made_); };
    options.writes_in_flight = [this] { return in_flight_; };
    return std::make_unique<SparePool>(std::move(options), &mu_, &budget_);
  }
  // Waits until the pool has nothing pending.
  void AwaitSettled(SparePool& pool) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      {
        absl::MutexLock lock(&mu_);
        if (!pool.pending()) return;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "the spare never settled";
  }

  testing::ScopedTempDir dir_;
  absl::Mutex mu_;
  Budget budget_{0, 0};
  int made_ = 0;
  bool in_flight_ = false;
};

TEST_F(SparePoolTest, MakesASpareAsLargeAsTheLastWriteAndCountsIt) {
  std::unique_ptr<SparePool> pool = MakePool(1 << 20, absl::Minutes(1));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_EQ(pool->Take(64 << 10), nullptr);  // none yet: one is asked for
  }
  AwaitSettled(*pool);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(pool->bytes(), 64 << 10);
  EXPECT_EQ(budget_.used_bytes(), 64 << 10);
  EXPECT_EQ(dir_.Entries().size(), 1u);
  std::unique_ptr<SpareFile> spare = pool->Take(64 << 10);
  ASSERT_NE(spare, nullptr);
  EXPECT_EQ(spare->size(), 64 << 10);
  EXPECT_EQ(budget_.used_bytes(), 0);  // the write counts it now
  pool->GiveBack(std::move(spare));
  EXPECT_EQ(budget_.used_bytes(), 64 << 10);
}

TEST_F(SparePoolTest, NoneIsMadeWhileWritesAreInFlight) {
  std::unique_ptr<SparePool> pool = MakePool(1 << 20, absl::Minutes(1));
  {
    absl::MutexLock lock(&mu_);
    in_flight_ = true;
    EXPECT_EQ(pool->Take(64 << 10), nullptr);  // one is asked for
  }
  absl::SleepFor(absl::Milliseconds(300));
  {
    absl::MutexLock lock(&mu_);
    EXPECT_TRUE(dir_.Entries().empty());
    EXPECT_EQ(pool->bytes(), 0);
    EXPECT_TRUE(pool->pending());
    in_flight_ = false;  // the pool sees it when the lock is released
  }
  AwaitSettled(*pool);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(pool->bytes(), 64 << 10);
}

TEST_F(SparePoolTest, AWriteOfUnderHalfItsSizeLeavesTheSpare) {
  std::unique_ptr<SparePool> pool = MakePool(1 << 20, absl::Minutes(1));
  {
    absl::MutexLock lock(&mu_);
    pool->Take(64 << 10);
  }
  AwaitSettled(*pool);
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(pool->Take(16 << 10), nullptr);
}

TEST_F(SparePoolTest, DropRemovesTheSpareAndItsBytes) {
  std::unique_ptr<SparePool> pool = MakePool(1 << 20, absl::Minutes(1));
  {
    absl::MutexLock lock(&mu_);
    pool->Take(64 << 10);
  }
  AwaitSettled(*pool);
  absl::MutexLock lock(&mu_);
  pool->Drop(/*keep_none=*/true);
  EXPECT_EQ(pool->bytes(), 0);
  EXPECT_EQ(budget_.used_bytes(), 0);
  EXPECT_TRUE(dir_.Entries().empty());
  EXPECT_FALSE(pool->pending());
}

TEST_F(SparePoolTest, AnIdleSpareGoes) {
  std::unique_ptr<SparePool> pool = MakePool(1 << 20, absl::Milliseconds(200));
  {
    absl::MutexLock lock(&mu_);
    pool->Take(64 << 10);
  }
  AwaitSettled(*pool);
  EXPECT_EQ(dir_.Entries().size(), 1u);
  auto gone = [&] {
    absl::MutexLock lock(&mu_);
    return pool->bytes() == 0 && budget_.used_bytes() == 0;
  };
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline && !gone()) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(gone());
  EXPECT_TRUE(dir_.Entries().empty());
}

TEST_F(SparePoolTest, TheDestructorRemovesTheSpare) {
  std::unique_ptr<SparePool> pool = MakePool(1 << 20, absl::Minutes(1));
  {
    absl::MutexLock lock(&mu_);
    pool->Take(64 << 10);
  }
  AwaitSettled(*pool);
  EXPECT_EQ(dir_.Entries().size(), 1u);
  pool.reset();
  EXPECT_TRUE(dir_.Entries().empty());
}

TEST_F(SparePoolTest, NoneWithoutALimit) {
  std::unique_ptr<SparePool> none = MakePool(0, absl::Minutes(1));
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(none->Take(64 << 10), nullptr);
  EXPECT_FALSE(none->pending());
}

}  // namespace
}  // namespace matcache
