// SpareFile: a file preallocated in the shm directory before it is needed,
// so that the next staging segment starts with its pages allocated and
// written. tmpfs
// allocates pages and copies data into a file under the same inode lock:
// allocating the next write's pages in another file is what lets the two
// run side by side.
//
// A spare holds no data (its pages read as zeros), and only its owner may
// open it (mode 0600). The destructor removes the file unless it was moved.
#ifndef MATCACHE_SERVER_CORE_STORAGE_SPARE_FILE_H_
#define MATCACHE_SERVER_CORE_STORAGE_SPARE_FILE_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace matcache {

class SpareFile {
 public:
  // Creates `path` (O_EXCL, mode 0600), preallocates `size` bytes and
  // faults every page in by writing it, a chunk at a time; once `cancelled`
  // is set it stops, removes the file and returns CANCELLED. ALREADY_EXISTS if `path` exists; RESOURCE_EXHAUSTED
  // if the filesystem lacks the space. On error no file is left behind.
  static absl::StatusOr<SpareFile> Create(std::string path, int64_t size,
                                          const std::atomic<bool>& cancelled);

  SpareFile(SpareFile&& other) noexcept;
  SpareFile& operator=(SpareFile&& other) noexcept;
  SpareFile(const SpareFile&) = delete;
  SpareFile& operator=(const SpareFile&) = delete;
  ~SpareFile();

  // Bytes preallocated; 0 once moved.
  int64_t size() const { return size_; }

  // Renames the file to `new_path` (never replacing a file) and hands over
  // its read-write descriptor; this object is then empty. On error
  // (ALREADY_EXISTS if `new_path` exists) nothing changes.
  absl::StatusOr<int> MoveTo(const std::string& new_path);

 private:
  SpareFile(std::string path, int fd, int64_t size);
  void Remove();

  std::string path_;
  int fd_ = -1;
  int64_t size_ = 0;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_SPARE_FILE_H_
