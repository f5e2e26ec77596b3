// Fuzzes numpy basic indexing as Read resolves it: arbitrary integer and
// slice bounds against a shape. Every selection must stay inside its
// dimension. For small shapes, and shapes of any extents that hold no
// elements, the selection is also read with SelectionReader, in chunks of
// fuzzed sizes, and compared with a plain element-by-element walk of it.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/core/array/selection_reader.h"
#include "fuzz/fuzz_checks.h"
#include "server/core/array/slice.h"
#include "server/core/format/shape.h"

namespace {

using matcache_fuzz::Check;
using matcache_fuzz::CheckInBounds;

// Largest source read per input: every small shape fits.
constexpr int64_t kMaxSourceBytes = int64_t{7 * 7 * 7 * 7} * 16;

std::optional<int64_t> MaybeBound(FuzzedDataProvider& input) {
  if (!input.ConsumeBool()) return std::nullopt;
  return input.ConsumeIntegral<int64_t>();
}

matcache::Index ConsumeIndex(FuzzedDataProvider& input) {
  if (input.ConsumeBool()) {
    return matcache::Index::At(input.ConsumeIntegral<int64_t>());
  }
  std::optional<int64_t> start = MaybeBound(input);
  std::optional<int64_t> stop = MaybeBound(input);
  return matcache::Index::Slice(start, stop, MaybeBound(input));
}

// The selected items of a C-contiguous source, in C order of the result,
// one element at a time.
std::string Walk(const std::string& source, const std::vector<int64_t>& shape,
                 int64_t item_size,
                 const std::vector<matcache::DimSelection>& selection) {
  std::string out;
  std::vector<int64_t> position(shape.size(), 0);
  for (const matcache::DimSelection& dim : selection) {
    if (dim.count == 0) return out;
  }
  while (true) {
    int64_t offset = 0;
    for (size_t d = 0; d < shape.size(); ++d) {
      offset = offset * shape[d] + selection[d].start +
               position[d] * selection[d].step;
    }
    out.append(source, static_cast<size_t>(offset * item_size),
               static_cast<size_t>(item_size));
    size_t d = shape.size();
    while (d > 0 && ++position[d - 1] == selection[d - 1].count) {
      position[--d] = 0;
    }
    if (d == 0) return out;
  }
}

void CheckReader(FuzzedDataProvider& input, const std::vector<int64_t>& shape,
                 const std::vector<matcache::DimSelection>& selection) {
  static constexpr int64_t kItemSizes[] = {1, 2, 4, 8, 16};
  const int64_t item_size = input.PickValueInArray(kItemSizes);
  absl::StatusOr<int64_t> bytes = matcache::ByteSize(shape, item_size);
  if (!bytes.ok() || *bytes > kMaxSourceBytes) return;
  std::string source(static_cast<size_t>(*bytes), '\0');
  for (size_t i = 0; i < source.size(); ++i) {
    source[i] = static_cast<char>(i * 131 + i / 256);
  }

  matcache::SelectionReader reader(source.data(), shape, item_size, selection);
  const std::string expected = Walk(source, shape, item_size, selection);
  Check(reader.total_bytes() == static_cast<int64_t>(expected.size()));
  std::string got;
  while (reader.remaining_bytes() > 0) {
    const size_t capacity = input.ConsumeIntegralInRange<size_t>(1, 64);
    if (reader.contiguous() && input.ConsumeBool()) {
      const size_t n =
          std::min(capacity, static_cast<size_t>(reader.remaining_bytes()));
      got.append(reader.Take(n), n);
      continue;
    }
    std::string chunk(capacity, '\0');
    const size_t n = reader.Read(chunk.data(), capacity);
    Check(n > 0 && n <= capacity);
    got.append(chunk, 0, n);
  }
  Check(got == expected);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const bool small = input.ConsumeBool();
  std::vector<int64_t> shape(
      input.ConsumeIntegralInRange<size_t>(0, small ? 4 : 8));
  for (int64_t& extent : shape) {
    extent = small ? input.ConsumeIntegralInRange<int64_t>(0, 7)
                   : input.ConsumeIntegralInRange<int64_t>(
                         0, std::numeric_limits<int64_t>::max());
  }
  std::vector<matcache::Index> indices(
      input.ConsumeIntegralInRange<size_t>(0, shape.size() + 1));
  for (matcache::Index& index : indices) index = ConsumeIndex(input);

  absl::StatusOr<std::vector<matcache::DimSelection>> selection =
      matcache::ResolveIndices(shape, indices);
  if (!selection.ok()) return 0;
  Check(selection->size() == shape.size());
  for (size_t d = 0; d < shape.size(); ++d)
    CheckInBounds((*selection)[d], shape[d]);
  CheckReader(input, shape, *selection);
  return 0;
}
