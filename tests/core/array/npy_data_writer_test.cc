#include "server/core/array/npy_data_writer.h"

#include <algorithm>
#include <complex>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/array/cast.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;

NpyHeader HeaderOf(DType dtype, std::vector<int64_t> shape, bool big_endian,
                   bool fortran) {
  NpyHeader header;
  header.dtype = dtype;
  header.shape = std::move(shape);
  header.big_endian = big_endian;
  header.fortran_order = fortran;
  int64_t elements = 1;
  for (int64_t extent : header.shape) elements *= extent;
  header.data_bytes = elements * GetDTypeInfo(dtype).item_size;
  return header;
}

// .npy data of `header` whose bytes are distinct enough to catch any
// misplaced byte.
std::string SourceData(const NpyHeader& header) {
  std::string data(static_cast<size_t>(header.data_bytes), '\0');
  std::mt19937 random(7);
  for (char& byte : data) byte = static_cast<char>(random() % 100);
  return data;
}

// The whole file converted at once, element by element: the C-ordered
// element at index (i0, ..., in) is the one a Fortran-ordered file holds at
// i0 + shape0 * (i1 + shape1 * (...)); each value (each part of a complex
// one) is byte-swapped if the file is big-endian.
std::string ConvertWhole(const NpyHeader& header, const std::string& data) {
  const int64_t item = GetDTypeInfo(header.dtype).item_size;
  const int64_t elements = header.data_bytes / item;
  const size_t ndim = header.shape.size();
  std::string out(data.size(), '\0');
  std::vector<int64_t> index(ndim, 0);
  for (int64_t c = 0; c < elements; ++c) {
    int64_t source = c;
    if (header.fortran_order && ndim > 1) {
      source = 0;
      for (size_t d = ndim; d-- > 0;) source = source * header.shape[d] + index[d];
    }
    std::string value = data.substr(static_cast<size_t>(source * item),
                                    static_cast<size_t>(item));
    if (header.big_endian) {
      const bool complex =
          header.dtype == DType::kComplex64 || header.dtype == DType::kComplex128;
      const size_t unit = static_cast<size_t>(complex ? item / 2 : item);
      for (size_t i = 0; i < value.size(); i += unit) {
        std::reverse(value.begin() + i, value.begin() + i + unit);
      }
    }
    out.replace(static_cast<size_t>(c * item), value.size(), value);
    for (size_t d = ndim; d-- > 0;) {  // the next C-ordered index
      if (++index[d] < header.shape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}

// Writes `data` in pieces of random sizes up to `max_piece`.
std::string WriteInPieces(const NpyHeader& header, DType target,
                          const std::string& data, size_t max_piece) {
  const int64_t elements = header.data_bytes / GetDTypeInfo(header.dtype).item_size;
  std::string out(static_cast<size_t>(elements * GetDTypeInfo(target).item_size), '\0');
  NpyDataWriter writer(header, target, out.data());
  EXPECT_EQ(writer.expected_bytes(), header.data_bytes);
  std::mt19937 random(11);
  size_t done = 0;
  while (done < data.size()) {
    const size_t n = std::min(data.size() - done, 1 + random() % max_piece);
    writer.Write(data.data() + done, n);
    done += n;
  }
  EXPECT_EQ(writer.received_bytes(), header.data_bytes);
  return out;
}

// Every byte order and memory order, in pieces cutting through elements,
// gives what converting the whole file at once gives.
TEST(NpyDataWriterTest, MatchesWholeFileConversion) {
  for (DType dtype : {DType::kInt32, DType::kFloat16, DType::kComplex128, DType::kUInt8}) {
    for (bool big_endian : {false, true}) {
      for (bool fortran : {false, true}) {
        const NpyHeader header = HeaderOf(dtype, {3, 4, 5}, big_endian, fortran);
        const std::string data = SourceData(header);
        const std::string expected = ConvertWhole(header, data);
        for (size_t piece : {1u, 5u, 64u, 100000u}) {
          EXPECT_EQ(WriteInPieces(header, dtype, data, piece), expected)
              << GetDTypeInfo(dtype).name << " big_endian=" << big_endian
              << " fortran=" << fortran << " pieces<=" << piece;
        }
      }
    }
  }
}

TEST(NpyDataWriterTest, ConvertsFortranOrderAndBigEndianToMatcacheLayout) {
  // np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3))
  const NpyHeader header = HeaderOf(DType::kInt32, {2, 3}, true, true);
  const unsigned char source[] = {0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1,
                                  0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 5};
  std::vector<int32_t> target(6);
  NpyDataWriter writer(header, DType::kInt32, reinterpret_cast<char*>(target.data()));
  writer.Write(reinterpret_cast<const char*>(source), sizeof(source));
  EXPECT_THAT(target, ElementsAre(0, 1, 2, 3, 4, 5));

  // Complex numbers swap each part, not the whole element.
  const NpyHeader complex_header = HeaderOf(DType::kComplex64, {1}, true, false);
  const unsigned char complex[] = {0x3f, 0x80, 0, 0, 0x40, 0, 0, 0};  // 1+2j
  std::complex<float> value;
  NpyDataWriter complex_writer(complex_header, DType::kComplex64,
                               reinterpret_cast<char*>(&value));
  complex_writer.Write(reinterpret_cast<const char*>(complex), sizeof(complex));
  EXPECT_EQ(value, std::complex<float>(1, 2));
}

TEST(NpyDataWriterTest, ConvertsToTheStoredDtype) {
  const NpyHeader header = HeaderOf(DType::kFloat64, {4, 3}, true, true);
  const std::string data = SourceData(header);
  const std::string native = ConvertWhole(header, data);
  std::string expected(12 * 4, '\0');
  CastElements(DType::kFloat64, DType::kFloat32, native.data(), expected.data(), 12);
  EXPECT_EQ(WriteInPieces(header, DType::kFloat32, data, 9), expected);
}

TEST(NpyDataWriterTest, OneDimensionalFortranIsC) {
  const NpyHeader header = HeaderOf(DType::kInt16, {7}, false, true);
  const std::string data = SourceData(header);
  EXPECT_EQ(WriteInPieces(header, DType::kInt16, data, 3), data);
}

}  // namespace
}  // namespace matcache
