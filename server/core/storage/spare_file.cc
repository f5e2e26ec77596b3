#include "server/core/storage/spare_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/base/posix_error.h"
#include "server/core/storage/preallocate.h"

namespace matcache {
namespace {

// Small enough that a cancellation waits a few milliseconds at most.
constexpr int64_t kChunkBytes = int64_t{32} << 20;

// Writes every page of bytes [offset, offset + length) of `fd`, which still
// read as zeros. fallocate on tmpfs only reserves the pages and leaves them
// unwritten: on a virtual machine whose host takes freed memory back (free
// page reporting), the host backs them again only when they are first
// written, and that wait would otherwise fall on the write that takes the
// spare.
absl::Status FaultIn(int fd, int64_t offset, int64_t length,
                     const std::string& path) {
  void* map = mmap(nullptr, static_cast<size_t>(length), PROT_READ | PROT_WRITE,
                   MAP_SHARED, fd, static_cast<off_t>(offset));
  if (map == MAP_FAILED) return PosixError(errno, "mmap", path);
  absl::Status status = PopulateWrite(static_cast<char*>(map),
                                      static_cast<size_t>(length), path);
  munmap(map, static_cast<size_t>(length));
  return status;
}

}  // namespace

absl::StatusOr<SpareFile> SpareFile::Create(std::string path, int64_t size,
                                            const std::atomic<bool>& cancelled) {
  const int fd = open(path.c_str(),
                      O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError(errno, "create", path);
  SpareFile spare(std::move(path), fd, 0);
  // The umask may have narrowed the mode, never widened it: this is exact.
  if (fchmod(fd, 0600) != 0) return PosixError(errno, "fchmod", spare.path_);
  while (spare.size_ < size) {
    if (cancelled.load(std::memory_order_relaxed)) {
      return absl::CancelledError(
          absl::StrCat("spare file ", spare.path_, " is no longer wanted"));
    }
    const int64_t chunk = std::min(kChunkBytes, size - spare.size_);
    absl::Status allocated = Preallocate(fd, spare.size_, chunk, spare.path_);
    if (allocated.ok()) allocated = FaultIn(fd, spare.size_, chunk, spare.path_);
    if (!allocated.ok()) return allocated;
    spare.size_ += chunk;
  }
  return spare;
}

SpareFile::SpareFile(std::string path, int fd, int64_t size)
    : path_(std::move(path)), fd_(fd), size_(size) {}

SpareFile::SpareFile(SpareFile&& other) noexcept
    : path_(std::move(other.path_)),
      fd_(std::exchange(other.fd_, -1)),
      size_(std::exchange(other.size_, 0)) {}

SpareFile& SpareFile::operator=(SpareFile&& other) noexcept {
  if (this != &other) {
    Remove();
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

SpareFile::~SpareFile() { Remove(); }

void SpareFile::Remove() {
  if (fd_ < 0) return;
  unlink(path_.c_str());
  close(std::exchange(fd_, -1));
  size_ = 0;
}

absl::StatusOr<int> SpareFile::MoveTo(const std::string& new_path) {
  if (renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, new_path.c_str(),
                RENAME_NOREPLACE) != 0) {
    return PosixError(errno, absl::StrCat("rename ", path_, " to"), new_path);
  }
  path_ = new_path;
  size_ = 0;
  return std::exchange(fd_, -1);
}

}  // namespace matcache
