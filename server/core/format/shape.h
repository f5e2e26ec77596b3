// Shape and stride arithmetic with overflow checks.
#ifndef MATCACHE_SERVER_CORE_FORMAT_SHAPE_H_
#define MATCACHE_SERVER_CORE_FORMAT_SHAPE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace matcache {

// Most dimensions a matrix may have (numpy's own limit).
inline constexpr int kMaxRank = 32;

// Returns the number of elements of `shape` (1 for a 0-d shape).
// INVALID_ARGUMENT if the rank exceeds kMaxRank, a dimension is negative, or
// the product of the non-zero extents overflows int64.
absl::StatusOr<int64_t> NumElements(absl::Span<const int64_t> shape);

// Returns NumElements(shape) * item_size, with the same errors, including
// when the byte span of the non-zero extents overflows int64.
absl::StatusOr<int64_t> ByteSize(absl::Span<const int64_t> shape,
                                 int64_t item_size);

// C-contiguous byte strides of `shape`, as numpy computes them. The shape
// must have passed ByteSize.
std::vector<int64_t> CStrides(absl::Span<const int64_t> shape,
                              int64_t item_size);

// "(3, 4)", "(5,)" or "()", as numpy prints shapes.
std::string ShapeToString(absl::Span<const int64_t> shape);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_SHAPE_H_
