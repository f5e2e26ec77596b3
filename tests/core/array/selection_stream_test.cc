#include "server/core/array/selection_stream.h"

#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/array/cast.h"

namespace matcache {
namespace {

// The whole result of `stream`, read in pieces of `piece` bytes.
std::string ReadAll(SelectionStream& stream, size_t piece) {
  std::string out(static_cast<size_t>(stream.total_bytes()), '\0');
  size_t done = 0;
  while (stream.remaining_bytes() > 0) {
    const size_t n = stream.Read(out.data() + done, piece);
    EXPECT_GT(n, 0u);
    done += n;
  }
  EXPECT_EQ(done, out.size());
  return out;
}

class SelectionStreamTest : public ::testing::Test {
 protected:
  SelectionStreamTest() : source_(6 * 5) {
    std::iota(source_.begin(), source_.end(), -7.25);
  }
  const char* data() const { return reinterpret_cast<const char*>(source_.data()); }
  std::vector<DimSelection> Select(std::vector<Index> indices) {
    return *ResolveIndices(shape_, indices);
  }

  const std::vector<int64_t> shape_ = {6, 5};
  std::vector<double> source_;
};

TEST_F(SelectionStreamTest, SameDtypeContiguousIsBorrowable) {
  const std::vector<DimSelection> rows = Select({Index::Slice(1, 4, {})});
  SelectionStream stream(data(), shape_, DType::kFloat64, rows, DType::kFloat64);
  EXPECT_TRUE(stream.borrowable());
  EXPECT_EQ(stream.total_bytes(), 3 * 5 * 8);
  EXPECT_EQ(stream.Take(16), data() + 5 * 8);
  EXPECT_EQ(stream.remaining_bytes(), 3 * 5 * 8 - 16);
}

TEST_F(SelectionStreamTest, CastNeverBorrows) {
  const std::vector<DimSelection> all = Select({});
  SelectionStream stream(data(), shape_, DType::kFloat64, all, DType::kFloat32);
  EXPECT_FALSE(stream.borrowable());
  EXPECT_EQ(stream.total_bytes(), 6 * 5 * 4);
}

// Pieces of every size, cutting through elements, give the same bytes as
// one conversion of the whole selection.
TEST_F(SelectionStreamTest, PiecesOfAnySizeMatchOneCast) {
  const std::vector<DimSelection> selection =
      Select({Index::Slice({}, {}, -2), Index::Slice(1, {}, 3)});
  std::vector<double> picked;
  for (int64_t i = 5; i >= 0; i -= 2) {
    for (int64_t j = 1; j < 5; j += 3) picked.push_back(source_[i * 5 + j]);
  }
  for (DType output : {DType::kFloat64, DType::kFloat32, DType::kInt16,
                       DType::kComplex128, DType::kBool}) {
    const int64_t item = GetDTypeInfo(output).item_size;
    std::string expected(picked.size() * item, '\0');
    CastElements(DType::kFloat64, output, reinterpret_cast<const char*>(picked.data()),
                 expected.data(), static_cast<int64_t>(picked.size()));
    for (size_t piece : {1u, 3u, 7u, 16u, 1000u}) {
      SelectionStream stream(data(), shape_, DType::kFloat64, selection, output);
      EXPECT_EQ(ReadAll(stream, piece), expected)
          << GetDTypeInfo(output).name << " in pieces of " << piece;
    }
  }
}

TEST_F(SelectionStreamTest, EmptySelectionHasNoBytes) {
  const std::vector<DimSelection> none = Select({Index::Slice(3, 3, {})});
  SelectionStream stream(data(), shape_, DType::kFloat64, none, DType::kInt8);
  EXPECT_EQ(stream.total_bytes(), 0);
  char byte = 0;
  EXPECT_EQ(stream.Read(&byte, 1), 0u);
}

}  // namespace
}  // namespace matcache
