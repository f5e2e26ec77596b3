// Content checksums of segment data and headers.
#ifndef MATCACHE_SERVER_CORE_CHECKSUM_H_
#define MATCACHE_SERVER_CORE_CHECKSUM_H_

#include <cstddef>
#include <cstdint>

namespace matcache {

// XXH3-64 (seed 0) of `size` bytes at `data`; runs at memory speed.
uint64_t Checksum(const void* data, size_t size);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CHECKSUM_H_
