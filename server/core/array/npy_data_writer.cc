#include "server/core/array/npy_data_writer.h"

#include <algorithm>
#include <cstring>

#include "server/core/array/cast.h"

namespace matcache {
namespace {

// Source bytes converted per step.
constexpr int64_t kBlockBytes = 64 << 10;

// Reverses the bytes of each `unit`-byte value of `size` bytes at `data`.
void SwapUnits(char* data, int64_t size, int64_t unit) {
  for (int64_t i = 0; i + unit <= size; i += unit) {
    std::reverse(data + i, data + i + unit);
  }
}

}  // namespace

NpyDataWriter::NpyDataWriter(const NpyHeader& header, DType target_dtype,
                             char* target)
    : header_(header),
      target_dtype_(target_dtype),
      target_(target),
      source_item_(GetDTypeInfo(header.dtype).item_size),
      target_item_(GetDTypeInfo(target_dtype).item_size),
      fortran_(header.fortran_order && header.shape.size() > 1) {
  if (fortran_) {
    position_.assign(header_.shape.size(), 0);
    strides_.resize(header_.shape.size());
    int64_t stride = target_item_;
    for (size_t d = header_.shape.size(); d-- > 0;) {
      strides_[d] = stride;
      stride *= header_.shape[d];
    }
  }
}

void NpyDataWriter::Write(const char* data, size_t size) {
  received_ += static_cast<int64_t>(size);
  if (!carry_.empty()) {
    const size_t n = std::min(size, static_cast<size_t>(source_item_) - carry_.size());
    carry_.append(data, n);
    data += n;
    size -= n;
    if (static_cast<int64_t>(carry_.size()) < source_item_) return;
    WriteElements(carry_.data(), 1);
    carry_.clear();
  }
  const int64_t block = std::max<int64_t>(1, kBlockBytes / source_item_);
  int64_t whole = static_cast<int64_t>(size) / source_item_;
  while (whole > 0) {
    const int64_t n = std::min(block, whole);
    WriteElements(data, n);
    data += n * source_item_;
    size -= static_cast<size_t>(n * source_item_);
    whole -= n;
  }
  carry_.assign(data, size);
}

void NpyDataWriter::WriteElements(const char* data, int64_t count) {
  const int64_t bytes = count * source_item_;
  if (header_.big_endian && source_item_ > 1) {
    swapped_.assign(data, data + bytes);
    const bool complex =
        header_.dtype == DType::kComplex64 || header_.dtype == DType::kComplex128;
    SwapUnits(swapped_.data(), bytes, complex ? source_item_ / 2 : source_item_);
    data = swapped_.data();
  }
  if (header_.dtype != target_dtype_) {
    converted_.resize(static_cast<size_t>(count * target_item_));
    CastElements(header_.dtype, target_dtype_, data, converted_.data(), count);
    data = converted_.data();
  }
  if (!fortran_) {
    std::memcpy(target_ + elements_done_ * target_item_, data,
                static_cast<size_t>(count * target_item_));
  } else {
    for (int64_t i = 0; i < count; ++i) {
      std::memcpy(target_ + NextFortranOffset(), data + i * target_item_,
                  static_cast<size_t>(target_item_));
    }
  }
  elements_done_ += count;
}

int64_t NpyDataWriter::NextFortranOffset() {
  const int64_t current = offset_;
  // Fortran order: the first index moves fastest.
  for (size_t d = 0; d < position_.size(); ++d) {
    offset_ += strides_[d];
    if (++position_[d] < header_.shape[d]) break;
    offset_ -= strides_[d] * position_[d];
    position_[d] = 0;
  }
  return current;
}

}  // namespace matcache
