#include "server/core/array/selection_stream.h"

#include <algorithm>
#include <cstring>

#include "server/core/array/cast.h"

namespace matcache {
namespace {

// Source bytes converted per step: small enough to stay in cache.
constexpr int64_t kConvertBlockBytes = 64 << 10;

}  // namespace

SelectionStream::SelectionStream(const char* source,
                                 absl::Span<const int64_t> shape,
                                 DType source_dtype,
                                 absl::Span<const DimSelection> selection,
                                 DType output_dtype)
    : reader_(source, shape, GetDTypeInfo(source_dtype).item_size, selection),
      source_dtype_(source_dtype),
      output_dtype_(output_dtype),
      source_item_(GetDTypeInfo(source_dtype).item_size),
      output_item_(GetDTypeInfo(output_dtype).item_size) {
  total_bytes_ = reader_.total_bytes() / source_item_ * output_item_;
}

const char* SelectionStream::Take(size_t size) {
  produced_bytes_ += static_cast<int64_t>(size);
  return reader_.Take(size);
}

void SelectionStream::Convert(char* out, int64_t elements) {
  if (source_dtype_ == output_dtype_) {
    reader_.Read(out, static_cast<size_t>(elements * source_item_));
    return;
  }
  const int64_t block = std::max<int64_t>(1, kConvertBlockBytes / source_item_);
  scratch_.resize(static_cast<size_t>(std::min(block, elements) * source_item_));
  while (elements > 0) {
    const int64_t n = std::min(block, elements);
    reader_.Read(scratch_.data(), static_cast<size_t>(n * source_item_));
    CastElements(source_dtype_, output_dtype_, scratch_.data(), out, n);
    out += n * output_item_;
    elements -= n;
  }
}

size_t SelectionStream::Read(char* out, size_t capacity) {
  capacity = static_cast<size_t>(
      std::min<int64_t>(static_cast<int64_t>(capacity), remaining_bytes()));
  size_t written = 0;
  // First what is left of an element an earlier piece cut through.
  if (partial_sent_ < partial_.size()) {
    const size_t n = std::min(capacity, partial_.size() - partial_sent_);
    std::memcpy(out, partial_.data() + partial_sent_, n);
    partial_sent_ += n;
    written = n;
  }
  const int64_t whole = static_cast<int64_t>(capacity - written) / output_item_;
  if (whole > 0) {
    Convert(out + written, whole);
    written += static_cast<size_t>(whole * output_item_);
  }
  if (written < capacity) {  // a piece ends inside the next element
    partial_.resize(static_cast<size_t>(output_item_));
    Convert(partial_.data(), 1);
    partial_sent_ = capacity - written;
    std::memcpy(out + written, partial_.data(), partial_sent_);
    written = capacity;
  }
  produced_bytes_ += static_cast<int64_t>(written);
  return written;
}

}  // namespace matcache
