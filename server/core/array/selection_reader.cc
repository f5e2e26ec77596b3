#include "server/core/array/selection_reader.h"

#include <algorithm>
#include <cstring>

namespace matcache {

SelectionReader::SelectionReader(const char* source,
                                 absl::Span<const int64_t> shape,
                                 int64_t item_size,
                                 absl::Span<const DimSelection> selection)
    : source_(source) {
  // C strides of the source, and the offset of the first selected element.
  std::vector<int64_t> strides(shape.size());
  int64_t stride = item_size;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = stride;
    stride *= shape[d];
  }
  int64_t elements = 1;
  for (size_t d = 0; d < selection.size(); ++d) {
    elements *= selection[d].count;
    run_start_ += selection[d].start * strides[d];
  }
  total_bytes_ = elements * item_size;

  // Merge trailing dimensions into one contiguous run: every dimension
  // selected whole, then at most one more with step 1.
  size_t outer = selection.size();
  run_bytes_ = item_size;
  while (outer > 0) {
    const DimSelection& dim = selection[outer - 1];
    if (dim.step != 1 && dim.count > 1) break;
    run_bytes_ *= dim.count;
    --outer;
    if (dim.count != shape[outer]) break;  // a partial range ends the run
  }
  for (size_t d = 0; d < outer; ++d) {
    if (selection[d].count > 1) {
      loops_.push_back(Loop{selection[d].count, selection[d].step * strides[d]});
    }
  }
  position_.assign(loops_.size(), 0);
}

size_t SelectionReader::Read(char* out, size_t capacity) {
  size_t written = 0;
  while (written < capacity && produced_bytes_ < total_bytes_) {
    const size_t n = static_cast<size_t>(std::min<int64_t>(
        run_bytes_ - run_done_, static_cast<int64_t>(capacity - written)));
    std::memcpy(out + written, source_ + run_start_ + run_done_, n);
    written += n;
    run_done_ += static_cast<int64_t>(n);
    produced_bytes_ += static_cast<int64_t>(n);
    if (run_done_ == run_bytes_) AdvanceRun();
  }
  return written;
}

const char* SelectionReader::Take(size_t size) {
  const char* next = source_ + run_start_ + run_done_;
  run_done_ += static_cast<int64_t>(size);
  produced_bytes_ += static_cast<int64_t>(size);
  return next;
}

void SelectionReader::AdvanceRun() {
  run_done_ = 0;
  for (size_t d = loops_.size(); d-- > 0;) {
    run_start_ += loops_[d].step_bytes;
    if (++position_[d] < loops_[d].count) return;
    run_start_ -= loops_[d].step_bytes * loops_[d].count;
    position_[d] = 0;
  }
}

}  // namespace matcache
