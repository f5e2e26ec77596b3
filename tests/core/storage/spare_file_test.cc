#include "server/core/storage/spare_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

constexpr int64_t kSize = (int64_t{40} << 20) + 4096;  // over a chunk

// How many of the file's pages mincore reports in memory: a page counts
// once it has been written, not when it was only preallocated.
size_t PagesInMemory(const std::string& path, int64_t size) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0);
  void* map = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  EXPECT_NE(map, MAP_FAILED);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_memory((size + page - 1) / page);
  EXPECT_EQ(mincore(map, size, in_memory.data()), 0);
  munmap(map, size);
  size_t count = 0;
  for (unsigned char flags : in_memory) count += flags & 1;
  return count;
}

TEST(SpareFileTest, EveryPageIsWrittenAndReadsAsZeros) {
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/spare";
  std::atomic<bool> cancelled{false};
  absl::StatusOr<SpareFile> spare = SpareFile::Create(path, kSize, cancelled);
  ASSERT_TRUE(spare.ok()) << spare.status();
  EXPECT_EQ(spare->size(), kSize);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(PagesInMemory(path, kSize), (kSize + page - 1) / page);

  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  std::vector<char> data(kSize, 1);
  EXPECT_EQ(pread(fd, data.data(), data.size(), 0), kSize);
  close(fd);
  EXPECT_EQ(data, std::vector<char>(kSize, 0));
}

TEST(SpareFileTest, PreallocatingAloneLeavesPagesUnwritten) {
  // What the test above tells apart: were this filesystem to count pages
  // reserved by fallocate as in memory, it could not fail.
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/reserved";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(posix_fallocate(fd, 0, kSize), 0);
  close(fd);
  EXPECT_EQ(PagesInMemory(path, kSize), 0u);
}

TEST(SpareFileTest, ACancelledSpareLeavesNoFile) {
  testing::ScopedTempDir dir;
  std::atomic<bool> cancelled{true};
  absl::StatusOr<SpareFile> spare =
      SpareFile::Create(dir.path() + "/spare", kSize, cancelled);
  EXPECT_TRUE(absl::IsCancelled(spare.status())) << spare.status();
  EXPECT_TRUE(dir.Entries().empty());
}

}  // namespace
}  // namespace matcache
