// Previewer: downsamples a matrix to a smaller target shape, the way a
// heatmap of a huge matrix needs it. The target covers the leading
// dimensions (the rest are kept whole); along each of them, output cell i
// covers source positions [floor(i*n/t), floor((i+1)*n/t)), a non-empty block.
// Each cell is the block's mean (computed in float64, or complex128 for
// complex matrices), min, max (NaN wins, as in numpy), or first element
// (a stride pick). Reads the source in place, never copying it.
//
// Const methods are thread-safe; the source must stay mapped.
#ifndef MATCACHE_SERVER_CORE_ARRAY_PREVIEW_H_
#define MATCACHE_SERVER_CORE_ARRAY_PREVIEW_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "matcache/dtype.h"
#include "matcache/preview_method.h"

namespace matcache {

// Largest preview output; previews are for looking at, not for copying.
inline constexpr int64_t kMaxPreviewBytes = int64_t{64} << 20;

class Previewer {
 public:
  // INVALID_ARGUMENT, naming the problem, if `target` is empty, has more
  // dimensions than `shape`, a zero, or an extent larger than the source's;
  // if the output would exceed kMaxPreviewBytes; or for min/max of complex
  // values.
  static absl::StatusOr<Previewer> Create(const char* source,
                                          absl::Span<const int64_t> shape,
                                          DType dtype,
                                          absl::Span<const int64_t> target,
                                          PreviewMethod method);

  const std::vector<int64_t>& output_shape() const { return output_shape_; }
  DType output_dtype() const { return output_dtype_; }
  // Output rows to compute (the first target extent, or 0 if the output has
  // no elements: an empty matrix has nothing to reduce, however large its
  // other extents) and the bytes of one row.
  int64_t rows() const { return rows_; }
  int64_t row_bytes() const { return row_bytes_; }

  // Computes output rows [begin, end) into `out` ((end - begin) *
  // row_bytes() bytes), spread over `threads` threads.
  void ComputeRows(int64_t begin, int64_t end, char* out, int threads) const;

 private:
  Previewer() = default;
  void ComputeRange(int64_t begin, int64_t end, char* out) const;

  const char* source_ = nullptr;
  std::vector<int64_t> shape_;
  DType dtype_ = DType::kFloat64;
  PreviewMethod method_ = PreviewMethod::kMean;
  int reduced_dims_ = 0;           // target rank
  std::vector<int64_t> output_shape_;
  DType output_dtype_ = DType::kFloat64;
  int64_t rows_ = 0;
  int64_t row_bytes_ = 0;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ARRAY_PREVIEW_H_
