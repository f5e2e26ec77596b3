#include "server/core/array/cast.h"

#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/format/half.h"

namespace matcache {
namespace {

template <typename To, typename From>
std::vector<To> Cast(DType from, DType to, const std::vector<From>& values) {
  std::vector<To> out(values.size());
  CastElements(from, to, reinterpret_cast<const char*>(values.data()),
               reinterpret_cast<char*>(out.data()),
               static_cast<int64_t>(values.size()));
  return out;
}

// Expected values below are what numpy's astype gives.
TEST(CastTest, FloatToIntegerTruncatesTowardZero) {
  EXPECT_EQ((Cast<int32_t, double>(DType::kFloat64, DType::kInt32,
                                   {1.9, -1.9, 0.5, -0.0, 1e6})),
            (std::vector<int32_t>{1, -1, 0, 0, 1000000}));
}

TEST(CastTest, IntegersWrap) {
  EXPECT_EQ((Cast<int8_t, int64_t>(DType::kInt64, DType::kInt8, {300, -129, 127})),
            (std::vector<int8_t>{44, 127, 127}));
  EXPECT_EQ((Cast<uint8_t, double>(DType::kFloat64, DType::kUInt8, {-1.0, 256.0})),
            (std::vector<uint8_t>{255, 0}));
  EXPECT_EQ((Cast<uint64_t, double>(DType::kFloat64, DType::kUInt64, {1e19})),
            (std::vector<uint64_t>{10000000000000000000ULL}));
}

TEST(CastTest, NaNToIntegerIsDefinedBehaviour) {
  // numpy's value is platform-specific; ours is fixed and free of UB.
  const std::vector<int64_t> out = Cast<int64_t, double>(
      DType::kFloat64, DType::kInt64, {std::nan(""), 1e300});
  EXPECT_EQ(out[0], std::numeric_limits<int64_t>::min());
  EXPECT_EQ(out[1], std::numeric_limits<int64_t>::min());
}

TEST(CastTest, BoolIsNonZero) {
  const std::vector<uint8_t> truth = Cast<uint8_t, double>(
      DType::kFloat64, DType::kBool, {0.0, -0.0, 0.1, std::nan("")});
  EXPECT_EQ(truth, (std::vector<uint8_t>{0, 0, 1, 1}));
  const std::vector<uint8_t> stored = {0, 1, 2, 255};  // any non-zero byte is true
  EXPECT_EQ((Cast<int32_t, uint8_t>(DType::kBool, DType::kInt32, stored)),
            (std::vector<int32_t>{0, 1, 1, 1}));
  EXPECT_EQ((Cast<uint8_t, std::complex<float>>(DType::kComplex64, DType::kBool,
                                                {{0, 0}, {0, 2}})),
            (std::vector<uint8_t>{0, 1}));
}

TEST(CastTest, ComplexDropsOrGainsTheImaginaryPart) {
  EXPECT_EQ((Cast<double, std::complex<double>>(DType::kComplex128, DType::kFloat64,
                                                {{1.5, 2.5}, {-3, 4}})),
            (std::vector<double>{1.5, -3}));
  EXPECT_EQ((Cast<std::complex<float>, int16_t>(DType::kInt16, DType::kComplex64, {7})),
            (std::vector<std::complex<float>>{{7, 0}}));
}

TEST(CastTest, Float16RoundsToNearestEven) {
  // np.array([...], np.float64).astype(np.float16).view(np.uint16)
  const std::vector<double> values = {1.0, -2.0, 65504.0, 65520.0, 1e-8,
                                      0.1, 2049.0, 2051.0, 6e-8, -0.0};
  const std::vector<uint16_t> bits = {0x3c00, 0xc000, 0x7bff, 0x7c00, 0x0000,
                                      0x2e66, 0x6800, 0x6802, 0x0001, 0x8000};
  const std::vector<Half> halves =
      Cast<Half, double>(DType::kFloat64, DType::kFloat16, values);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(halves[i].bits, bits[i]) << values[i];
  }
  EXPECT_TRUE(std::isnan(HalfToDouble(DoubleToHalf(std::nan("")))));
  // Every finite half survives a round trip through double.
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const Half half{static_cast<uint16_t>(b)};
    const double value = HalfToDouble(half);
    if (std::isnan(value)) continue;
    EXPECT_EQ(DoubleToHalf(value).bits, half.bits) << b;
  }
}

TEST(CastTest, SameDTypeCopies) {
  const std::vector<int64_t> values = {1, -2, 3};
  EXPECT_EQ((Cast<int64_t, int64_t>(DType::kInt64, DType::kInt64, values)), values);
}

}  // namespace
}  // namespace matcache
