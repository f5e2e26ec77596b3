#include "server/core/format/checksum.h"

#include <sys/mman.h>

#define XXH_STATIC_LINKING_ONLY  // XXH3_state_t by value
#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "server/core/base/parallel.h"

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif

namespace matcache {
namespace {

// Faults in the pages of [data, data + size) ahead of reading them: one
// call instead of a fault per few pages. Only a hint: where the kernel
// lacks it, or the range is not mapped memory, reading faults them in.
void PopulateForReading(const char* data, size_t size) {
  constexpr uintptr_t kPage = 4096;
  const uintptr_t begin = reinterpret_cast<uintptr_t>(data) & ~(kPage - 1);
  const uintptr_t end = reinterpret_cast<uintptr_t>(data) + size;
  madvise(reinterpret_cast<void*>(begin), end - begin, MADV_POPULATE_READ);
}

}  // namespace

uint64_t Checksum(const void* data, size_t size) {
  return XXH3_64bits(data, size);
}

uint64_t DataChecksum(const char* data, size_t size, int threads) {
  const size_t blocks = (size + kChecksumBlockBytes - 1) / kChecksumBlockBytes;
  std::vector<uint64_t> sums(blocks);
  RunInParts(blocks, threads, [&](size_t first, size_t last) {
    const size_t begin = first * kChecksumBlockBytes;
    const size_t end = std::min(last * kChecksumBlockBytes, size);
    PopulateForReading(data + begin, end - begin);
    for (size_t b = first; b < last; ++b) {
      const size_t at = b * kChecksumBlockBytes;
      sums[b] = Checksum(data + at, std::min(kChecksumBlockBytes, size - at));
    }
  });
  return CombineBlockChecksums(sums);
}

uint64_t CombineBlockChecksums(absl::Span<const uint64_t> block_checksums) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  return Checksum(block_checksums.data(),
                  block_checksums.size() * sizeof(uint64_t));
}

void BlockChecksummer::StateDeleter::operator()(XXH3_state_s* state) const {
  delete state;
}

BlockChecksummer::BlockChecksummer() : state_(new XXH3_state_t) { Reset(); }

BlockChecksummer::~BlockChecksummer() = default;

void BlockChecksummer::Reset() { XXH3_64bits_reset(state_.get()); }

void BlockChecksummer::Update(const void* data, size_t size) {
  XXH3_64bits_update(state_.get(), data, size);
}

uint64_t BlockChecksummer::Digest() const {
  return XXH3_64bits_digest(state_.get());
}

void DataChecksummer::Update(const char* data, size_t size) {
  while (size > 0) {
    const size_t piece = std::min(size, kChecksumBlockBytes - in_block_);
    block_.Update(data, piece);
    in_block_ += piece;
    data += piece;
    size -= piece;
    if (in_block_ == kChecksumBlockBytes) {
      sums_.push_back(block_.Digest());
      block_.Reset();
      in_block_ = 0;
    }
  }
}

uint64_t DataChecksummer::Digest() const {
  if (in_block_ == 0) return CombineBlockChecksums(sums_);
  std::vector<uint64_t> sums = sums_;
  sums.push_back(block_.Digest());
  return CombineBlockChecksums(sums);
}

}  // namespace matcache
