// SelectionStream: the elements a numpy basic index selects from a
// C-contiguous source, converted to an output dtype (numpy's astype), in
// the C order of the result, into caller buffers of any size. What a Read
// stream or an HTTP download sends, one bounded piece at a time; pieces
// need not end on element boundaries.
//
// Not thread-safe. The source must stay mapped while the stream is used.
#ifndef MATCACHE_SERVER_CORE_ARRAY_SELECTION_STREAM_H_
#define MATCACHE_SERVER_CORE_ARRAY_SELECTION_STREAM_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "server/core/array/selection_reader.h"
#include "server/core/array/slice.h"
#include "matcache/dtype.h"

namespace matcache {

class SelectionStream {
 public:
  // `selection` comes from ResolveIndices(shape, ...).
  SelectionStream(const char* source, absl::Span<const int64_t> shape,
                  DType source_dtype, absl::Span<const DimSelection> selection,
                  DType output_dtype);

  // Bytes of the whole converted result, and of what is left of it.
  int64_t total_bytes() const { return total_bytes_; }
  int64_t remaining_bytes() const { return total_bytes_ - produced_bytes_; }

  // True when the output is the source's bytes as they are: one contiguous
  // range, same dtype. Then Take may be used instead of Read.
  bool borrowable() const { return source_dtype_ == output_dtype_ && reader_.contiguous(); }
  // For a borrowable stream: where the next `size` bytes (at most
  // remaining_bytes()) are in the source; skips them without copying.
  const char* Take(size_t size);

  // Copies the next min(capacity, remaining_bytes()) bytes to `out`;
  // returns how many.
  size_t Read(char* out, size_t capacity);

 private:
  // Converts whole elements into `out` (a multiple of the output item size).
  void Convert(char* out, int64_t elements);

  SelectionReader reader_;
  const DType source_dtype_;
  const DType output_dtype_;
  const int64_t source_item_;
  const int64_t output_item_;
  int64_t total_bytes_ = 0;
  int64_t produced_bytes_ = 0;
  std::vector<char> scratch_;  // source items awaiting conversion
  std::string partial_;        // the converted element a piece cut through
  size_t partial_sent_ = 0;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ARRAY_SELECTION_STREAM_H_
