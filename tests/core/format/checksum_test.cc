#include "server/core/format/checksum.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace matcache {
namespace {

TEST(ChecksumTest, DataChecksumHashesTheBlockChecksums) {
  // Two full blocks and a short one.
  const size_t size = 2 * kChecksumBlockBytes + 12345;
  std::vector<char> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 131 + i / 7);
  const uint64_t blocks[] = {
      Checksum(data.data(), kChecksumBlockBytes),
      Checksum(data.data() + kChecksumBlockBytes, kChecksumBlockBytes),
      Checksum(data.data() + 2 * kChecksumBlockBytes, 12345),
  };
  const uint64_t expected = Checksum(blocks, sizeof(blocks));
  for (int threads : {1, 2, 3, 8}) {
    EXPECT_EQ(DataChecksum(data.data(), size, threads), expected) << threads;
  }
  data[kChecksumBlockBytes + 5] ^= 1;
  EXPECT_NE(DataChecksum(data.data(), size, 2), expected);
}

TEST(ChecksumTest, EmptyDataHasNoBlocks) {
  EXPECT_EQ(DataChecksum(nullptr, 0, 2), Checksum(nullptr, 0));
}

}  // namespace
}  // namespace matcache
