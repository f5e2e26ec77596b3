#include "server/core/storage/checksummed_copy.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/format/checksum.h"
#include "server/core/storage/preallocate.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

// Two checksum blocks, then a part that is not a whole number of pieces.
constexpr size_t kSize = 2 * kChecksumBlockBytes + (300 << 10) + 5;
constexpr int64_t kFromOffset = 128;
constexpr int64_t kToOffset = 4096;

class ChecksummedCopyTest : public ::testing::Test {
 protected:
  ChecksummedCopyTest()
      : from_path_(dir_.path() + "/from"), to_path_(dir_.path() + "/to"),
        data_(kSize) {
    for (size_t i = 0; i < kSize; ++i) {
      data_[i] = static_cast<char>(i * 131 + i / 4099);
    }
    from_ = open(from_path_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    to_ = open(to_path_.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
    EXPECT_GE(from_, 0);
    EXPECT_GE(to_, 0);
    EXPECT_EQ(pwrite(from_, data_.data(), kSize, kFromOffset),
              static_cast<ssize_t>(kSize));
  }
  ~ChecksummedCopyTest() override {
    close(from_);
    close(to_);
  }

  std::vector<char> Copied() const {
    std::vector<char> copied(kSize);
    EXPECT_EQ(pread(to_, copied.data(), kSize, kToOffset),
              static_cast<ssize_t>(kSize));
    return copied;
  }

  testing::ScopedTempDir dir_;
  const std::string from_path_;
  const std::string to_path_;
  std::vector<char> data_;
  int from_ = -1;
  int to_ = -1;
};

TEST_F(ChecksummedCopyTest, AWriteErrorNamesTheTarget) {
  const int read_only = open(to_path_.c_str(), O_RDONLY);
  ASSERT_GE(read_only, 0);
  absl::StatusOr<uint64_t> checksum =
      CopyWithChecksum(FileRange{from_, kFromOffset, from_path_},
                       FileRange{read_only, kToOffset, to_path_}, kSize, 2);
  close(read_only);
  EXPECT_FALSE(checksum.ok());
  EXPECT_THAT(checksum.status().message(), HasSubstr(to_path_));
}

// The target file mapped writable, its space preallocated, as a staging
// segment's is; unmapped at the end.
class ChecksummedCopyIntoMappingTest : public ChecksummedCopyTest {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Preallocate(to_, 0, kToOffset + kSize, to_path_).ok());
    void* map = mmap(nullptr, kToOffset + kSize, PROT_READ | PROT_WRITE,
                     MAP_SHARED, to_, 0);
    ASSERT_NE(map, MAP_FAILED) << std::strerror(errno);
    map_ = static_cast<char*>(map);
  }
  void TearDown() override {
    if (map_ != nullptr) munmap(map_, kToOffset + kSize);
  }

  char* map_ = nullptr;
};

TEST_F(ChecksummedCopyIntoMappingTest, AStartInsideAPageIsCopiedThere) {
  constexpr size_t kSkew = 100;
  constexpr size_t kCopied = kChecksumBlockBytes + 7;
  std::memset(map_, 0x5a, kToOffset + kSize);
  absl::StatusOr<uint64_t> checksum = CopyIntoMappingWithChecksum(
      FileRange{from_, kFromOffset, from_path_}, map_ + kToOffset + kSkew,
      to_path_, kCopied, 2);
  ASSERT_TRUE(checksum.ok()) << checksum.status();
  EXPECT_EQ(*checksum, DataChecksum(data_.data(), kCopied, 1));
  const char* copied = map_ + kToOffset + kSkew;
  EXPECT_EQ(std::vector<char>(copied, copied + kCopied),
            std::vector<char>(data_.begin(), data_.begin() + kCopied));
  // Nothing around the range was written.
  EXPECT_EQ(copied[-1], 0x5a);
  EXPECT_EQ(copied[kCopied], 0x5a);
}

// How a copy writes its target.
enum class Writing { kPwrite, kIntoMapping };

// What both copies promise, each into the same mapped target file.
class EitherCopyTest : public ChecksummedCopyIntoMappingTest,
                       public ::testing::WithParamInterface<Writing> {
 protected:
  absl::StatusOr<uint64_t> Copy(int from_fd, size_t size, int threads) {
    const FileRange from{from_fd, kFromOffset, from_path_};
    if (GetParam() == Writing::kPwrite) {
      return CopyWithChecksum(from, FileRange{to_, kToOffset, to_path_}, size,
                              threads);
    }
    return CopyIntoMappingWithChecksum(from, map_ + kToOffset, to_path_, size,
                                       threads);
  }
};

INSTANTIATE_TEST_SUITE_P(Writings, EitherCopyTest,
                         ::testing::Values(Writing::kPwrite,
                                           Writing::kIntoMapping));

TEST_P(EitherCopyTest, CopiesEveryByteAndReturnsItsDataChecksum) {
  const uint64_t expected = DataChecksum(data_.data(), kSize, 1);
  for (int threads : {1, 2, 3}) {
    std::memset(map_, 0, kToOffset + kSize);
    absl::StatusOr<uint64_t> checksum = Copy(from_, kSize, threads);
    ASSERT_TRUE(checksum.ok()) << checksum.status();
    EXPECT_EQ(*checksum, expected) << threads;
    EXPECT_EQ(Copied(), data_) << threads;
  }
  // The positions were not used, nor moved.
  EXPECT_EQ(lseek(from_, 0, SEEK_CUR), 0);
  EXPECT_EQ(lseek(to_, 0, SEEK_CUR), 0);
}

TEST_P(EitherCopyTest, NothingToCopyIsTheEmptyChecksum) {
  absl::StatusOr<uint64_t> checksum = Copy(from_, 0, 2);
  ASSERT_TRUE(checksum.ok()) << checksum.status();
  EXPECT_EQ(*checksum, DataChecksum(nullptr, 0, 1));
}

TEST_P(EitherCopyTest, ASourceThatEndsEarlyIsInvalidArgument) {
  ASSERT_EQ(ftruncate(from_, kFromOffset + kChecksumBlockBytes + 10), 0);
  absl::StatusOr<uint64_t> checksum = Copy(from_, kSize, 2);
  EXPECT_EQ(checksum.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(checksum.status().message(),
              HasSubstr(from_path_ + " ends before the data it announces"));
}

TEST_P(EitherCopyTest, AReadErrorNamesTheSource) {
  const int write_only = open(from_path_.c_str(), O_WRONLY);
  ASSERT_GE(write_only, 0);
  absl::StatusOr<uint64_t> checksum = Copy(write_only, kSize, 2);
  close(write_only);
  EXPECT_FALSE(checksum.ok());
  EXPECT_THAT(checksum.status().message(), HasSubstr(from_path_));
}

}  // namespace
}  // namespace matcache
