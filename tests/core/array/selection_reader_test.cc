#include "server/core/array/selection_reader.h"

#include <numeric>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "server/core/format/shape.h"

namespace matcache {
namespace {

// Reference: walks the result in C order with an odometer, element by
// element.
std::vector<int32_t> Reference(const std::vector<int32_t>& source,
                               const std::vector<int64_t>& shape,
                               const std::vector<DimSelection>& selection) {
  const std::vector<int64_t> strides = CStrides(shape, 1);
  std::vector<int32_t> result;
  int64_t total = 1;
  for (const DimSelection& dim : selection) total *= dim.count;
  std::vector<int64_t> position(selection.size(), 0);
  for (int64_t n = 0; n < total; ++n) {
    int64_t offset = 0;
    for (size_t d = 0; d < selection.size(); ++d) {
      offset += (selection[d].start + position[d] * selection[d].step) * strides[d];
    }
    result.push_back(source[offset]);
    for (size_t d = selection.size(); d-- > 0;) {
      if (++position[d] < selection[d].count) break;
      position[d] = 0;
    }
  }
  return result;
}

// Reads the whole result in chunks of `chunk` bytes.
std::vector<int32_t> ReadAll(SelectionReader& reader, size_t chunk) {
  std::vector<int32_t> result(reader.total_bytes() / 4);
  char* out = reinterpret_cast<char*>(result.data());
  size_t done = 0;
  while (size_t n = reader.Read(out + done, chunk)) done += n;
  EXPECT_EQ(done, result.size() * 4);
  EXPECT_EQ(reader.remaining_bytes(), 0);
  return result;
}

TEST(SelectionReaderTest, MatchesAnElementWiseReferenceOnRandomSelections) {
  std::mt19937_64 random(20261125);
  for (int trial = 0; trial < 2000; ++trial) {
    const int ndim = 1 + static_cast<int>(random() % 4);
    std::vector<int64_t> shape(ndim);
    for (int64_t& extent : shape) extent = static_cast<int64_t>(random() % 6);
    std::vector<int32_t> source(*NumElements(shape));
    std::iota(source.begin(), source.end(), 0);

    std::vector<Index> indices;
    const int given = static_cast<int>(random() % (ndim + 1));
    for (int d = 0; d < given; ++d) {
      auto bound = [&]() -> std::optional<int64_t> {
        if (random() % 3 == 0) return std::nullopt;
        return static_cast<int64_t>(random() % 15) - 7;
      };
      if (random() % 4 == 0 && shape[d] > 0) {
        indices.push_back(Index::At(static_cast<int64_t>(random() % shape[d])));
      } else {
        std::optional<int64_t> step = bound();
        if (step == 0) step = -1;
        indices.push_back(Index::Slice(bound(), bound(), step));
      }
    }
    absl::StatusOr<std::vector<DimSelection>> selection =
        ResolveIndices(shape, indices);
    ASSERT_TRUE(selection.ok()) << selection.status();
    const std::vector<int32_t> expected = Reference(source, shape, *selection);
    for (size_t chunk : {4u, 12u, 1000u}) {
      SelectionReader reader(reinterpret_cast<const char*>(source.data()), shape,
                             4, *selection);
      ASSERT_EQ(ReadAll(reader, chunk), expected) << "trial " << trial;
    }
  }
}

TEST(SelectionReaderTest, ChunksMaySplitElements) {
  std::vector<int32_t> source(24);
  std::iota(source.begin(), source.end(), 100);
  absl::StatusOr<std::vector<DimSelection>> selection =
      ResolveIndices({4, 6}, {Index::Slice({}, {}, -1), Index::Slice(1, 5, 2)});
  ASSERT_TRUE(selection.ok());
  SelectionReader reader(reinterpret_cast<const char*>(source.data()), {4, 6}, 4,
                         *selection);
  EXPECT_EQ(ReadAll(reader, 3),
            (std::vector<int32_t>{119, 121, 113, 115, 107, 109, 101, 103}));
}

}  // namespace
}  // namespace matcache
