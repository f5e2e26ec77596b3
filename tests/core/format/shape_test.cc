#include "server/core/format/shape.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ShapeTest, CountsElementsAndBytes) {
  EXPECT_EQ(*NumElements({}), 1);
  EXPECT_EQ(*NumElements({7}), 7);
  EXPECT_EQ(*NumElements({2, 3, 4}), 24);
  EXPECT_EQ(*NumElements({3, 0, 5}), 0);
  EXPECT_EQ(*ByteSize({2, 3, 4}, 8), 192);
  EXPECT_EQ(*ByteSize({}, 16), 16);
  EXPECT_EQ(*ByteSize({0}, 8), 0);
}

TEST(ShapeTest, ByteSizeOverflowIsRefused) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<std::vector<int64_t>> shapes = {
      {int64_t{1} << 32, int64_t{1} << 32},  // 2^64 elements
      {kMax, 2},
      {int64_t{1} << 61},                    // fits as a count, not in bytes
  };
  for (const auto& shape : shapes) {
    absl::StatusOr<int64_t> bytes = ByteSize(shape, 8);
    EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument)
        << ShapeToString(shape);
    EXPECT_THAT(bytes.status().message(), HasSubstr("overflow"));
  }
  EXPECT_TRUE(NumElements({int64_t{1} << 61}).ok());
}

TEST(ShapeTest, ZeroExtentDoesNotHideOverflowOfTheOthers) {
  absl::StatusOr<int64_t> bytes =
      ByteSize({0, int64_t{1} << 40, int64_t{1} << 40}, 8);
  EXPECT_EQ(bytes.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ShapeTest, NegativeExtentIsRefused) {
  absl::StatusOr<int64_t> count = NumElements({3, -1});
  EXPECT_EQ(count.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(count.status().message(), HasSubstr("dimension 1"));
}

TEST(ShapeTest, RankAbove32IsRefused) {
  std::vector<int64_t> rank32(32, 1);
  EXPECT_TRUE(NumElements(rank32).ok());
  std::vector<int64_t> rank33(33, 1);
  EXPECT_EQ(NumElements(rank33).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ShapeTest, StridesMatchNumpy) {
  // Values from numpy: np.zeros(shape, dtype).strides.
  EXPECT_THAT(CStrides({2, 3, 4}, 8), ElementsAre(96, 32, 8));
  EXPECT_THAT(CStrides({5}, 2), ElementsAre(2));
  EXPECT_THAT(CStrides({}, 8), ElementsAre());
  EXPECT_THAT(CStrides({3, 0, 2}, 8), ElementsAre(16, 16, 8));
}

TEST(ShapeTest, PrintsLikeNumpy) {
  EXPECT_EQ(ShapeToString({}), "()");
  EXPECT_EQ(ShapeToString({5}), "(5,)");
  EXPECT_EQ(ShapeToString({3, 4}), "(3, 4)");
}

}  // namespace
}  // namespace matcache
