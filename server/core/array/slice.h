// numpy basic indexing: resolving per-dimension indices (integers and
// start:stop:step slices) against a shape, exactly as numpy does.
#ifndef MATCACHE_SERVER_CORE_ARRAY_SLICE_H_
#define MATCACHE_SERVER_CORE_ARRAY_SLICE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "matcache/index.h"

namespace matcache {

// The positions selected in one source dimension: start, start + step, ...
// (`count` of them; step may be negative).
struct DimSelection {
  int64_t start = 0;
  int64_t step = 1;
  int64_t count = 0;
  bool keep = true;  // false for an integer index: the dimension is dropped
};

// Resolves `indices` (one per leading dimension; the rest are taken whole)
// against `shape`. INVALID_ARGUMENT, naming the dimension, for a step of 0,
// an integer out of range, or more indices than dimensions.
absl::StatusOr<std::vector<DimSelection>> ResolveIndices(
    absl::Span<const int64_t> shape, absl::Span<const Index> indices);

// The shape of the result: the counts of the kept dimensions.
std::vector<int64_t> SelectedShape(absl::Span<const DimSelection> selection);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ARRAY_SLICE_H_
