#include "server/core/cache/budget.h"

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

absl::Time At(int seconds) { return absl::FromUnixSeconds(seconds); }

TEST(BudgetTest, CountsBytesAndTheirPeak) {
  Budget budget(100, 10);
  EXPECT_EQ(budget.used_bytes(), 10);
  EXPECT_EQ(budget.peak_used_bytes(), 10);
  budget.Charge(60);
  budget.Release(50);
  EXPECT_EQ(budget.used_bytes(), 20);
  EXPECT_EQ(budget.peak_used_bytes(), 70);
  EXPECT_TRUE(budget.Fits(80));
  EXPECT_FALSE(budget.Fits(81));
}

TEST(BudgetTest, NoLimitFitsEverything) {
  Budget budget(0, 0);
  EXPECT_TRUE(budget.Fits(int64_t{1} << 50));
  EXPECT_THAT(*budget.ChooseVictims(int64_t{1} << 50, {{"a", 5, At(1)}}),
              ElementsAre());
}

TEST(BudgetTest, EvictsLeastRecentlyUsedFirstUntilItFits) {
  Budget budget(100, 90);
  absl::StatusOr<std::vector<std::string>> victims = budget.ChooseVictims(
      30, {{"a", 10, At(3)}, {"b", 10, At(1)}, {"c", 10, At(2)}, {"d", 10, At(4)}});
  ASSERT_TRUE(victims.ok()) << victims.status();
  EXPECT_THAT(*victims, ElementsAre("b", "c"));
}

TEST(BudgetTest, TiesGoInTheOrderGiven) {
  Budget budget(100, 100);
  EXPECT_THAT(*budget.ChooseVictims(10, {{"x", 10, At(1)}, {"y", 10, At(1)}}),
              ElementsAre("x"));
}

TEST(BudgetTest, RefusesWhenEvictingEverythingWouldNotMakeRoom) {
  Budget budget(100, 95);
  absl::StatusOr<std::vector<std::string>> victims =
      budget.ChooseVictims(50, {{"a", 20, At(1)}});
  EXPECT_TRUE(absl::IsResourceExhausted(victims.status()));
  EXPECT_THAT(victims.status().message(),
              HasSubstr("needs 50 bytes; 5 of the 100-byte budget are free and "
                        "eviction could free 20 more"));
}

}  // namespace
}  // namespace matcache
