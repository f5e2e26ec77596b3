// The directory a store keeps its files in, and the lock that makes one
// namespace of it one process's.
#ifndef MATCACHE_SERVER_CORE_STORAGE_STORE_DIR_H_
#define MATCACHE_SERVER_CORE_STORAGE_STORE_DIR_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace matcache {

// The canonical directory for the files of namespace `name_space` in
// `shm_dir`: `shm_dir` itself if only this process's user may create files
// there, else <shm_dir>/<namespace>, created if missing, which must be a
// directory of this user that no other user may write; it gets mode 0700,
// or 0750 and `group`, so that nobody else can plant, squat or link a file
// among the store's. NOT_FOUND if `shm_dir` is missing; FAILED_PRECONDITION
// if it is not a directory, lets other users remove files that are not
// theirs (not sticky), or if <shm_dir>/<namespace> is not this user's own.
absl::StatusOr<std::string> OpenStoreDirectory(const std::string& shm_dir,
                                               const std::string& name_space,
                                               std::optional<gid_t> group);

// An exclusive flock on <dir>/<namespace>.lock, held for the object's life,
// so that two servers never recover (and so delete) each other's files.
// Move-only.
class NamespaceLock {
 public:
  // Takes the lock, waiting up to `wait` for another process to release it.
  // FAILED_PRECONDITION if another process holds it after that, or if the
  // lock file is not a regular file of this user that only it may write;
  // the POSIX error of opening or locking it.
  static absl::StatusOr<NamespaceLock> Acquire(const std::string& dir,
                                               const std::string& name_space,
                                               absl::Duration wait);

  NamespaceLock(NamespaceLock&& other) noexcept;
  NamespaceLock& operator=(NamespaceLock&& other) noexcept;
  NamespaceLock(const NamespaceLock&) = delete;
  NamespaceLock& operator=(const NamespaceLock&) = delete;
  ~NamespaceLock();

 private:
  explicit NamespaceLock(int fd) : fd_(fd) {}

  int fd_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_STORE_DIR_H_
