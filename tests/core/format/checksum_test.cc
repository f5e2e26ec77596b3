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
  EXPECT_EQ(CombineBlockChecksums({}), DataChecksum(nullptr, 0, 1));
}

TEST(ChecksumTest, BlockChecksummerHashesPiecesAsOne) {
  std::vector<char> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + i / 251);
  BlockChecksummer block;
  EXPECT_EQ(block.Digest(), Checksum(nullptr, 0));
  // Uneven pieces, one of them empty.
  size_t at = 0;
  for (size_t piece : {size_t{1}, size_t{0}, size_t{4095}, size_t{70001}}) {
    block.Update(data.data() + at, piece);
    at += piece;
  }
  block.Update(data.data() + at, data.size() - at);
  EXPECT_EQ(block.Digest(), Checksum(data.data(), data.size()));
  block.Reset();
  block.Update(data.data(), 10);
  EXPECT_EQ(block.Digest(), Checksum(data.data(), 10));
}

TEST(ChecksumTest, CombiningBlockChecksumsGivesTheDataChecksum) {
  const size_t size = kChecksumBlockBytes + 99;
  std::vector<char> data(size, 'x');
  data[size - 1] = 'y';
  const uint64_t blocks[] = {
      Checksum(data.data(), kChecksumBlockBytes),
      Checksum(data.data() + kChecksumBlockBytes, 99),
  };
  EXPECT_EQ(CombineBlockChecksums(blocks), DataChecksum(data.data(), size, 2));
}

TEST(ChecksumTest, DataChecksummerHashesPiecesAcrossBlocks) {
  const size_t size = 2 * kChecksumBlockBytes + 777;
  std::vector<char> data(size);
  for (size_t i = 0; i < size; ++i) data[i] = static_cast<char>(i * 17 + i / 4093);
  DataChecksummer whole;
  EXPECT_EQ(whole.Digest(), DataChecksum(nullptr, 0, 1));
  // Pieces that end short of, exactly at and across block boundaries.
  DataChecksummer pieces;
  size_t at = 0;
  for (size_t piece : {kChecksumBlockBytes - 5, size_t{5}, size_t{0},
                       kChecksumBlockBytes + 700}) {
    pieces.Update(data.data() + at, piece);
    at += piece;
  }
  EXPECT_EQ(pieces.Digest(), DataChecksum(data.data(), at, 1));
  pieces.Update(data.data() + at, size - at);
  whole.Update(data.data(), size);
  EXPECT_EQ(pieces.Digest(), DataChecksum(data.data(), size, 2));
  EXPECT_EQ(whole.Digest(), pieces.Digest());
}

}  // namespace
}  // namespace matcache
