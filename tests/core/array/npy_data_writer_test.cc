#include "server/core/array/npy_data_writer.h"

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/array/cast.h"

namespace matcache {
namespace {

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
        std::string expected(data.size(), '\0');
        NpyDataToMatcache(header, data.data(), expected.data());
        for (size_t piece : {1u, 5u, 64u, 100000u}) {
          EXPECT_EQ(WriteInPieces(header, dtype, data, piece), expected)
              << GetDTypeInfo(dtype).name << " big_endian=" << big_endian
              << " fortran=" << fortran << " pieces<=" << piece;
        }
      }
    }
  }
}

TEST(NpyDataWriterTest, ConvertsToTheStoredDtype) {
  const NpyHeader header = HeaderOf(DType::kFloat64, {4, 3}, true, true);
  const std::string data = SourceData(header);
  std::string native(data.size(), '\0');
  NpyDataToMatcache(header, data.data(), native.data());
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
