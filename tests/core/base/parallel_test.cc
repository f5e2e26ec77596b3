#include "server/core/base/parallel.h"

#include <algorithm>
#include <cstddef>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;

// What RunInParts called: the ranges, sorted, and the threads it used.
struct Calls {
  std::vector<std::pair<size_t, size_t>> ranges;
  std::set<std::thread::id> threads;
};

Calls Split(size_t count, int threads) {
  absl::Mutex mu;
  Calls calls;
  RunInParts(count, threads, [&](size_t first, size_t last) {
    absl::MutexLock lock(&mu);
    calls.ranges.emplace_back(first, last);
    calls.threads.insert(std::this_thread::get_id());
  });
  std::sort(calls.ranges.begin(), calls.ranges.end());
  return calls;
}

TEST(RunInPartsTest, CoversTheRangeInConsecutiveParts) {
  Calls calls = Split(10, 3);
  EXPECT_THAT(calls.ranges, ElementsAre(std::pair<size_t, size_t>(0, 3),
                                        std::pair<size_t, size_t>(3, 6),
                                        std::pair<size_t, size_t>(6, 10)));
  EXPECT_EQ(calls.threads.size(), 3u);
}

TEST(RunInPartsTest, NeverMorePartsThanItems) {
  Calls calls = Split(2, 8);
  EXPECT_THAT(calls.ranges, ElementsAre(std::pair<size_t, size_t>(0, 1),
                                        std::pair<size_t, size_t>(1, 2)));
}

TEST(RunInPartsTest, OneThreadAtLeastAndOnTheCaller) {
  for (int threads : {0, -3, 1}) {
    Calls calls = Split(5, threads);
    EXPECT_THAT(calls.ranges, ElementsAre(std::pair<size_t, size_t>(0, 5)))
        << threads;
    EXPECT_THAT(calls.threads, ElementsAre(std::this_thread::get_id()));
  }
}

TEST(RunInPartsTest, NothingToDoCallsNothing) {
  EXPECT_TRUE(Split(0, 4).ranges.empty());
}

}  // namespace
}  // namespace matcache
