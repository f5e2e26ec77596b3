#include "server/core/array/slice.h"

#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

// The positions numpy's range(n)[start:stop:step] selects.
std::vector<int64_t> Positions(const DimSelection& dim) {
  std::vector<int64_t> positions;
  for (int64_t i = 0; i < dim.count; ++i) positions.push_back(dim.start + i * dim.step);
  return positions;
}

std::vector<int64_t> Select(int64_t length, std::optional<int64_t> start,
                            std::optional<int64_t> stop,
                            std::optional<int64_t> step) {
  absl::StatusOr<std::vector<DimSelection>> selection =
      ResolveIndices({length}, {Index::Slice(start, stop, step)});
  EXPECT_TRUE(selection.ok()) << selection.status();
  return Positions((*selection)[0]);
}

TEST(SliceTest, MatchesPythonSlicing) {
  using V = std::vector<int64_t>;
  // Expected values are list(range(10))[...] in Python.
  EXPECT_EQ(Select(10, {}, {}, {}), (V{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(Select(10, 2, 5, {}), (V{2, 3, 4}));
  EXPECT_EQ(Select(10, -3, {}, {}), (V{7, 8, 9}));
  EXPECT_EQ(Select(10, {}, -7, {}), (V{0, 1, 2}));
  EXPECT_EQ(Select(10, {}, {}, 3), (V{0, 3, 6, 9}));
  EXPECT_EQ(Select(10, {}, {}, -1), (V{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Select(10, 8, 2, -2), (V{8, 6, 4}));
  EXPECT_EQ(Select(10, -1, -4, -1), (V{9, 8, 7}));
  EXPECT_EQ(Select(10, 100, {}, -3), (V{9, 6, 3, 0}));
  EXPECT_EQ(Select(10, -100, 100, {}), (V{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(Select(10, 5, 2, {}), V{});
  EXPECT_EQ(Select(10, 2, 5, -1), V{});
  EXPECT_EQ(Select(10, {}, -100, -1), (V{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(Select(0, {}, {}, -1), V{});
  EXPECT_EQ(Select(1, {}, {}, -5), V{0});
}

TEST(SliceTest, ExtremeBoundsAndStepsDoNotOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  using V = std::vector<int64_t>;
  EXPECT_EQ(Select(5, kMin, kMax, kMax), V{0});
  EXPECT_EQ(Select(5, kMax, kMin, kMin), V{4});
  EXPECT_EQ(Select(5, kMin, kMax, 1), (V{0, 1, 2, 3, 4}));
}

TEST(SliceTest, IntegersDropDimensionsAndCountFromTheEnd) {
  absl::StatusOr<std::vector<DimSelection>> selection =
      ResolveIndices({4, 5, 6}, {Index::At(-1), Index::Slice(1, {}, 2)});
  ASSERT_TRUE(selection.ok());
  EXPECT_EQ((*selection)[0].start, 3);
  EXPECT_FALSE((*selection)[0].keep);
  EXPECT_EQ(SelectedShape(*selection), (std::vector<int64_t>{2, 6}));
}

TEST(SliceTest, BadIndicesAreRefusedNamingTheDimension) {
  absl::StatusOr<std::vector<DimSelection>> zero_step =
      ResolveIndices({4, 5}, {Index::All(), Index::Slice({}, {}, 0)});
  EXPECT_EQ(zero_step.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(zero_step.status().message(), HasSubstr("dimension 1"));

  absl::StatusOr<std::vector<DimSelection>> out_of_range =
      ResolveIndices({4, 5}, {Index::At(4)});
  EXPECT_EQ(out_of_range.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(out_of_range.status().message(),
              HasSubstr("index 4 is out of bounds for dimension 0 with size 4"));
  EXPECT_FALSE(ResolveIndices({4, 5}, {Index::At(-5)}).ok());

  absl::StatusOr<std::vector<DimSelection>> too_many =
      ResolveIndices({4}, {Index::At(0), Index::At(0)});
  EXPECT_EQ(too_many.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(too_many.status().message(), HasSubstr("too many indices"));
  EXPECT_EQ(ResolveIndices({}, {Index::All()}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace matcache
