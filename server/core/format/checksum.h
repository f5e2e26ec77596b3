// Content checksums of segment data and headers.
#ifndef MATCACHE_SERVER_CORE_FORMAT_CHECKSUM_H_
#define MATCACHE_SERVER_CORE_FORMAT_CHECKSUM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/types/span.h"

struct XXH3_state_s;

namespace matcache {

// XXH3-64 (seed 0) of `size` bytes at `data`; runs at memory speed.
uint64_t Checksum(const void* data, size_t size);

// Bytes per block of DataChecksum.
inline constexpr size_t kChecksumBlockBytes = size_t{16} << 20;

// The checksum of a segment's data: the XXH3-64 of the sequence of
// little-endian 64-bit XXH3-64 checksums of each kChecksumBlockBytes block
// (the last one may be shorter; no data means no blocks). Blocks are hashed
// on up to `threads` threads, so a large matrix hashes at several times the
// speed of one core; a mapping's pages are faulted in ahead of the hashing
// where the kernel can (MADV_POPULATE_READ).
uint64_t DataChecksum(const char* data, size_t size, int threads);

// DataChecksum from the checksums of all blocks, in order.
uint64_t CombineBlockChecksums(absl::Span<const uint64_t> block_checksums);

// The Checksum of one block handed over in consecutive pieces, for a
// writer that hashes data while it is in the cache anyway.
class BlockChecksummer {
 public:
  BlockChecksummer();
  ~BlockChecksummer();
  BlockChecksummer(const BlockChecksummer&) = delete;
  BlockChecksummer& operator=(const BlockChecksummer&) = delete;

  // Starts a new block.
  void Reset();
  // Appends `size` bytes at `data` to the block.
  void Update(const void* data, size_t size);
  // Checksum of everything given since the last Reset.
  uint64_t Digest() const;

 private:
  struct StateDeleter {
    void operator()(XXH3_state_s* state) const;
  };
  std::unique_ptr<XXH3_state_s, StateDeleter> state_;
};

// The DataChecksum of data handed over in order, in pieces of any size,
// for a writer that hashes data as it receives it.
class DataChecksummer {
 public:
  // Appends `size` bytes at `data`.
  void Update(const char* data, size_t size);
  // DataChecksum of everything given so far.
  uint64_t Digest() const;

 private:
  BlockChecksummer block_;        // the block being filled
  size_t in_block_ = 0;           // bytes of it given
  std::vector<uint64_t> sums_;    // of the blocks before
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_CHECKSUM_H_
