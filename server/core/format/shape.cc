#include "server/core/format/shape.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace matcache {

namespace {

// Product of max(extent, 1) over `shape`, times `item_size`: the span the
// outermost stride covers. Checking it for overflow also keeps CStrides safe
// for shapes with a zero extent.
absl::StatusOr<int64_t> CheckedSpan(absl::Span<const int64_t> shape,
                                    int64_t item_size) {
  if (shape.size() > static_cast<size_t>(kMaxRank)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "shape has ", shape.size(), " dimensions; at most ", kMaxRank,
        " are supported"));
  }
  int64_t span = item_size;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("shape ", ShapeToString(shape), " has a negative ",
                       "extent in dimension ", i));
    }
    if (__builtin_mul_overflow(span, shape[i] > 0 ? shape[i] : 1, &span)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shape ", ShapeToString(shape), " with ", item_size,
          "-byte elements overflows a signed 64-bit byte size"));
    }
  }
  return span;
}

bool HasZeroExtent(absl::Span<const int64_t> shape) {
  for (int64_t extent : shape) {
    if (extent == 0) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape) {
  absl::StatusOr<int64_t> span = CheckedSpan(shape, 1);
  if (!span.ok()) return span.status();
  return HasZeroExtent(shape) ? 0 : *span;
}

absl::StatusOr<int64_t> ByteSize(absl::Span<const int64_t> shape,
                                 int64_t item_size) {
  absl::StatusOr<int64_t> span = CheckedSpan(shape, item_size);
  if (!span.ok()) return span.status();
  return HasZeroExtent(shape) ? 0 : *span;
}

std::vector<int64_t> CStrides(absl::Span<const int64_t> shape,
                              int64_t item_size) {
  std::vector<int64_t> strides(shape.size());
  int64_t stride = item_size;
  for (size_t i = shape.size(); i-- > 0;) {
    strides[i] = stride;
    // numpy keeps multiplying by max(extent, 1) so that zero extents do not
    // zero the outer strides.
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

std::string ShapeToString(absl::Span<const int64_t> shape) {
  if (shape.size() == 1) return absl::StrCat("(", shape[0], ",)");
  return absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
}

}  // namespace matcache
