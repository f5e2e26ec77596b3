// SelectionReader: copies the elements a numpy basic index selects from a
// C-contiguous source, in the C order of the result, into caller buffers of
// any size. Resumable, so a stream can fill bounded chunks one at a time.
// Trailing dimensions selected whole (and one contiguous range before them)
// merge into single memcpy runs.
//
// Not thread-safe. The source must stay mapped while the reader is used.
#ifndef MATCACHE_SERVER_CORE_ARRAY_SELECTION_READER_H_
#define MATCACHE_SERVER_CORE_ARRAY_SELECTION_READER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "server/core/array/slice.h"

namespace matcache {

class SelectionReader {
 public:
  // `selection` comes from ResolveIndices(shape, ...).
  SelectionReader(const char* source, absl::Span<const int64_t> shape,
                  int64_t item_size, absl::Span<const DimSelection> selection);

  // Bytes of the whole result.
  int64_t total_bytes() const { return total_bytes_; }
  int64_t remaining_bytes() const { return total_bytes_ - produced_bytes_; }

  // Copies the next min(capacity, remaining_bytes()) bytes to `out`;
  // returns how many.
  size_t Read(char* out, size_t capacity);

  // True if the whole result is one contiguous range of the source.
  bool contiguous() const { return loops_.empty(); }
  // For a contiguous result: returns where the next `size` bytes (at most
  // remaining_bytes()) are in the source, and skips them, without copying.
  const char* Take(size_t size);

 private:
  struct Loop {
    int64_t count;
    int64_t step_bytes;  // source bytes between successive positions
  };
  void AdvanceRun();

  const char* const source_;
  std::vector<Loop> loops_;   // outer loops, outermost first
  int64_t run_bytes_ = 0;     // contiguous bytes copied per innermost step
  int64_t total_bytes_ = 0;
  int64_t produced_bytes_ = 0;
  std::vector<int64_t> position_;  // odometer over loops_
  int64_t run_start_ = 0;     // source offset of the current run
  int64_t run_done_ = 0;      // bytes of the current run already copied
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ARRAY_SELECTION_READER_H_
