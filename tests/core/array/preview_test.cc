#include "server/core/array/preview.h"

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/format/half.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Runs a preview of `source` (float64) and returns the float64 output.
std::vector<double> Preview(const std::vector<double>& source,
                            std::vector<int64_t> shape, std::vector<int64_t> target,
                            PreviewMethod method, int threads = 2) {
  absl::StatusOr<Previewer> previewer =
      Previewer::Create(reinterpret_cast<const char*>(source.data()), shape,
                        DType::kFloat64, target, method);
  EXPECT_TRUE(previewer.ok()) << previewer.status();
  std::vector<double> out(previewer->rows() * previewer->row_bytes() / 8);
  previewer->ComputeRows(0, previewer->rows(), reinterpret_cast<char*>(out.data()),
                         threads);
  return out;
}

int64_t Start(int64_t i, int64_t n, int64_t t) { return i * n / t; }

// Straightforward 2-D reference: loops over each cell's block.
std::vector<double> Reference2D(const std::vector<double>& source, int64_t rows,
                                int64_t columns, int64_t t0, int64_t t1,
                                PreviewMethod method) {
  std::vector<double> out;
  for (int64_t i = 0; i < t0; ++i) {
    for (int64_t j = 0; j < t1; ++j) {
      const int64_t r0 = Start(i, rows, t0), r1 = Start(i + 1, rows, t0);
      const int64_t c0 = Start(j, columns, t1), c1 = Start(j + 1, columns, t1);
      if (method == PreviewMethod::kFirst) {
        out.push_back(source[r0 * columns + c0]);
        continue;
      }
      double sum = 0, low = INFINITY, high = -INFINITY;
      for (int64_t r = r0; r < r1; ++r) {
        for (int64_t c = c0; c < c1; ++c) {
          const double v = source[r * columns + c];
          sum += v;
          low = std::min(low, v);
          high = std::max(high, v);
        }
      }
      out.push_back(method == PreviewMethod::kMean  ? sum / ((r1 - r0) * (c1 - c0))
                    : method == PreviewMethod::kMin ? low
                                                    : high);
    }
  }
  return out;
}

TEST(PreviewTest, MatchesTheReferenceOnEvenAndUnevenBlocks) {
  std::mt19937_64 random(7);
  std::uniform_real_distribution<double> value(-100, 100);
  for (auto [rows, columns, t0, t1] :
       std::vector<std::array<int64_t, 4>>{{8, 8, 4, 2}, {7, 10, 3, 4},
                                           {13, 5, 13, 5}, {100, 37, 9, 1},
                                           {1, 9, 1, 9}}) {
    std::vector<double> source(rows * columns);
    for (double& v : source) v = value(random);
    for (PreviewMethod method : {PreviewMethod::kMean, PreviewMethod::kMin,
                                 PreviewMethod::kMax, PreviewMethod::kFirst}) {
      const std::vector<double> expected =
          Reference2D(source, rows, columns, t0, t1, method);
      const std::vector<double> got =
          Preview(source, {rows, columns}, {t0, t1}, method);
      ASSERT_EQ(got.size(), expected.size());
      for (size_t k = 0; k < got.size(); ++k) {
        EXPECT_NEAR(got[k], expected[k], 1e-9)
            << rows << "x" << columns << " -> " << t0 << "x" << t1 << " cell " << k;
      }
    }
  }
}

TEST(PreviewTest, TrailingDimensionsAreKeptWhole) {
  // (4, 3) previewed to (2,): means of row pairs, columns kept.
  std::vector<double> source(12);
  std::iota(source.begin(), source.end(), 0);
  EXPECT_THAT(Preview(source, {4, 3}, {2}, PreviewMethod::kMean),
              ElementsAre(1.5, 2.5, 3.5, 7.5, 8.5, 9.5));
  EXPECT_THAT(Preview(source, {2, 2, 3}, {1, 1}, PreviewMethod::kMax),
              ElementsAre(9, 10, 11));
}

TEST(PreviewTest, ThreadCountDoesNotChangeTheResult) {
  std::vector<double> source(50 * 40);
  std::iota(source.begin(), source.end(), 0.5);
  EXPECT_EQ(Preview(source, {50, 40}, {7, 6}, PreviewMethod::kMean, 1),
            Preview(source, {50, 40}, {7, 6}, PreviewMethod::kMean, 5));
}

TEST(PreviewTest, NaNWinsMinAndMax) {
  const std::vector<double> source = {1, NAN, 3, 4};
  EXPECT_TRUE(std::isnan(Preview(source, {4}, {1}, PreviewMethod::kMin)[0]));
  EXPECT_TRUE(std::isnan(Preview(source, {4}, {1}, PreviewMethod::kMax)[0]));
  EXPECT_THAT(Preview(source, {4}, {2}, PreviewMethod::kFirst)[1], 3);
}

TEST(PreviewTest, OtherDTypesKeepTheirTypeExceptForMean) {
  const std::vector<int16_t> ints = {5, -3, 7, 1};
  absl::StatusOr<Previewer> min = Previewer::Create(
      reinterpret_cast<const char*>(ints.data()), {4}, DType::kInt16, {2},
      PreviewMethod::kMin);
  ASSERT_TRUE(min.ok());
  EXPECT_EQ(min->output_dtype(), DType::kInt16);
  std::vector<int16_t> low(2);
  min->ComputeRows(0, 2, reinterpret_cast<char*>(low.data()), 1);
  EXPECT_THAT(low, ElementsAre(-3, 1));

  const std::vector<Half> halves = {DoubleToHalf(1), DoubleToHalf(2),
                                    DoubleToHalf(4), DoubleToHalf(8)};
  absl::StatusOr<Previewer> mean = Previewer::Create(
      reinterpret_cast<const char*>(halves.data()), {2, 2}, DType::kFloat16,
      {1, 1}, PreviewMethod::kMean);
  ASSERT_TRUE(mean.ok());
  EXPECT_EQ(mean->output_dtype(), DType::kFloat64);
  double average = 0;
  mean->ComputeRows(0, 1, reinterpret_cast<char*>(&average), 1);
  EXPECT_EQ(average, 3.75);

  const std::vector<uint8_t> flags = {0, 1, 0, 0};  // bool
  absl::StatusOr<Previewer> any = Previewer::Create(
      reinterpret_cast<const char*>(flags.data()), {4}, DType::kBool, {2},
      PreviewMethod::kMax);
  ASSERT_TRUE(any.ok());
  std::vector<uint8_t> out(2);
  any->ComputeRows(0, 2, reinterpret_cast<char*>(out.data()), 1);
  EXPECT_THAT(out, ElementsAre(1, 0));
}

TEST(PreviewTest, AnEmptyMatrixHasNoRowsToComputeHoweverLongItIs) {
  // Walking 2^62 empty source rows would take forever.
  const std::vector<int64_t> shape = {int64_t{1} << 62, 0};
  for (std::vector<int64_t> target : {std::vector<int64_t>{1},
                                      std::vector<int64_t>{int64_t{1} << 40}}) {
    absl::StatusOr<Previewer> previewer = Previewer::Create(
        nullptr, shape, DType::kInt32, target, PreviewMethod::kMean);
    ASSERT_TRUE(previewer.ok()) << previewer.status();
    EXPECT_THAT(previewer->output_shape(), ElementsAre(target[0], 0));
    ASSERT_EQ(previewer->rows(), 0);
    previewer->ComputeRows(0, previewer->rows(), nullptr, /*threads=*/2);
  }
}

TEST(PreviewTest, BadShapesAreRefusedNamingTheProblem) {
  const std::vector<double> source(12);
  const char* data = reinterpret_cast<const char*>(source.data());
  struct Case {
    std::vector<int64_t> shape;
    std::vector<int64_t> target;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {{4, 3}, {}, "empty"},
           {{4, 3}, {2, 0}, "non-positive extent in dimension 1"},
           {{4, 3}, {2, 2, 1}, "more dimensions"},
           {{4, 3}, {5, 1}, "larger than the matrix (4, 3) in dimension 0"},
           {{}, {1}, "more dimensions"},
       }) {
    absl::StatusOr<Previewer> previewer =
        Previewer::Create(data, c.shape, DType::kFloat64, c.target, PreviewMethod::kMean);
    EXPECT_EQ(previewer.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(previewer.status().message(), HasSubstr(c.message));
  }
  absl::StatusOr<Previewer> complex_min = Previewer::Create(
      data, {6}, DType::kComplex128, {2}, PreviewMethod::kMin);
  EXPECT_THAT(complex_min.status().message(), HasSubstr("complex"));
  absl::StatusOr<Previewer> huge = Previewer::Create(
      data, {int64_t{1} << 20, int64_t{1} << 20}, DType::kFloat64,
      {int64_t{1} << 20, 1024}, PreviewMethod::kMean);
  EXPECT_THAT(huge.status().message(), HasSubstr("would exceed"));
}

}  // namespace
}  // namespace matcache
