// Content checksums of segment data and headers.
#ifndef MATCACHE_SERVER_CORE_FORMAT_CHECKSUM_H_
#define MATCACHE_SERVER_CORE_FORMAT_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace matcache {

// XXH3-64 (seed 0) of `size` bytes at `data`; runs at memory speed.
uint64_t Checksum(const void* data, size_t size);

// Bytes per block of DataChecksum.
inline constexpr size_t kChecksumBlockBytes = size_t{16} << 20;

// The checksum of a segment's data: the XXH3-64 of the sequence of
// little-endian 64-bit XXH3-64 checksums of each kChecksumBlockBytes block
// (the last one may be shorter; no data means no blocks). Blocks are hashed
// on up to `threads` threads, so a large matrix hashes at several times the
// speed of one core.
uint64_t DataChecksum(const char* data, size_t size, int threads);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_CHECKSUM_H_
