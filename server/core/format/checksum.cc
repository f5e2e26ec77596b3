#include "server/core/format/checksum.h"

#include <xxhash.h>

#include <algorithm>
#include <thread>
#include <vector>

namespace matcache {

uint64_t Checksum(const void* data, size_t size) {
  return XXH3_64bits(data, size);
}

uint64_t DataChecksum(const char* data, size_t size, int threads) {
  const size_t blocks = (size + kChecksumBlockBytes - 1) / kChecksumBlockBytes;
  std::vector<uint64_t> sums(blocks);
  auto hash_blocks = [&](size_t first, size_t last) {
    for (size_t b = first; b < last; ++b) {
      const size_t begin = b * kChecksumBlockBytes;
      sums[b] = Checksum(data + begin, std::min(kChecksumBlockBytes, size - begin));
    }
  };
  const size_t parts = std::clamp<size_t>(threads, 1, std::max<size_t>(blocks, 1));
  std::vector<std::thread> helpers;
  for (size_t p = 1; p < parts; ++p) {
    helpers.emplace_back(hash_blocks, blocks * p / parts, blocks * (p + 1) / parts);
  }
  hash_blocks(0, blocks / parts);
  for (std::thread& helper : helpers) helper.join();
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__);
  return Checksum(sums.data(), sums.size() * sizeof(uint64_t));
}

}  // namespace matcache
