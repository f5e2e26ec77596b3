#include "server/core/array/slice.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace matcache {
namespace {

// numpy's (CPython's PySlice_AdjustIndices) clamping of one bound.
int64_t ClampBound(int64_t bound, int64_t length, bool negative_step) {
  if (bound < 0) {
    bound += length;  // cannot overflow: bound < 0 <= length
    if (bound < 0) return negative_step ? -1 : 0;
    return bound;
  }
  if (bound >= length) return negative_step ? length - 1 : length;
  return bound;
}

absl::StatusOr<DimSelection> ResolveSlice(const Index& index, int64_t length,
                                          size_t dim) {
  const int64_t step = index.step.value_or(1);
  if (step == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("slice step is 0 in dimension ", dim));
  }
  const bool negative = step < 0;
  const int64_t start = index.start.has_value()
                            ? ClampBound(*index.start, length, negative)
                            : (negative ? length - 1 : 0);
  const int64_t stop = index.stop.has_value()
                           ? ClampBound(*index.stop, length, negative)
                           : (negative ? -1 : length);
  // |step| as unsigned, safe for INT64_MIN.
  const uint64_t magnitude =
      negative ? static_cast<uint64_t>(-(step + 1)) + 1 : static_cast<uint64_t>(step);
  int64_t count = 0;
  if (!negative && start < stop) {
    count = static_cast<int64_t>(static_cast<uint64_t>(stop - start - 1) / magnitude) + 1;
  } else if (negative && stop < start) {
    count = static_cast<int64_t>(static_cast<uint64_t>(start - stop - 1) / magnitude) + 1;
  }
  // With count <= 1 the step never moves; keep it representable.
  return DimSelection{start, count > 1 ? step : 1, count, true};
}

}  // namespace

absl::StatusOr<std::vector<DimSelection>> ResolveIndices(
    absl::Span<const int64_t> shape, absl::Span<const Index> indices) {
  if (indices.size() > shape.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "too many indices: ", indices.size(), " for a matrix with ",
        shape.size(), " dimensions"));
  }
  std::vector<DimSelection> selection;
  selection.reserve(shape.size());
  for (size_t dim = 0; dim < shape.size(); ++dim) {
    const int64_t length = shape[dim];
    if (dim >= indices.size()) {
      selection.push_back(DimSelection{0, 1, length, true});
      continue;
    }
    const Index& index = indices[dim];
    if (index.is_slice) {
      absl::StatusOr<DimSelection> resolved = ResolveSlice(index, length, dim);
      if (!resolved.ok()) return resolved.status();
      selection.push_back(*resolved);
      continue;
    }
    const int64_t position = index.at < 0 ? index.at + length : index.at;
    if (position < 0 || position >= length) {
      return absl::InvalidArgumentError(absl::StrCat(
          "index ", index.at, " is out of bounds for dimension ", dim,
          " with size ", length));
    }
    selection.push_back(DimSelection{position, 1, 1, false});
  }
  return selection;
}

std::vector<int64_t> SelectedShape(absl::Span<const DimSelection> selection) {
  std::vector<int64_t> shape;
  for (const DimSelection& dim : selection) {
    if (dim.keep) shape.push_back(dim.count);
  }
  return shape;
}

}  // namespace matcache
