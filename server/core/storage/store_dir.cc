#include "server/core/storage/store_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/core/base/logging.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"

namespace matcache {
namespace {

absl::StatusOr<std::string> CanonicalDirectory(const std::string& dir) {
  char resolved[PATH_MAX];
  if (realpath(dir.c_str(), resolved) == nullptr) {
    return PosixError(errno, "shm_dir", dir);
  }
  struct stat st;
  if (stat(resolved, &st) != 0) return PosixError(errno, "stat", resolved);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("shm_dir ", dir, " is not a directory"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "shm_dir %s (mode %04o) lets other users rename or delete this "
        "server's segments; make it sticky (chmod +t, as /dev/shm is) or "
        "writable by its owner only",
        dir, st.st_mode & 07777));
  }
  return std::string(resolved);
}

// The directory the store keeps its files in: `dir` itself if only this
// process's user may create files there, else <dir>/<namespace>, created if
// missing, which must be a directory of this user that no other user may
// write; it gets mode 0700, or 0750 and `group`, so that nobody else can
// plant, squat or link a file among the store's.
absl::StatusOr<std::string> OwnDirectory(const std::string& dir,
                                         const std::string& name_space,
                                         std::optional<gid_t> group) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return PosixError(errno, "stat", dir);
  if (st.st_uid == geteuid() && (st.st_mode & 0022) == 0) return dir;
  const std::string own = absl::StrCat(dir, "/", name_space);
  if (mkdir(own.c_str(), 0700) != 0 && errno != EEXIST) {
    return PosixError(errno, "mkdir", own);
  }
  const int fd = open(own.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno != ENOTDIR && errno != ELOOP) {
    return PosixError(errno, "open", own);
  }
  const bool ours = fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
                    (st.st_mode & 0022) == 0;
  absl::Status access = absl::OkStatus();
  if (ours && group.has_value() &&
      fchown(fd, static_cast<uid_t>(-1), *group) != 0) {
    access = PosixError(errno, "chown", own);
  }
  if (ours && access.ok() && fchmod(fd, group.has_value() ? 0750 : 0700) != 0) {
    access = PosixError(errno, "chmod", own);
  }
  if (fd >= 0) close(fd);
  if (!ours) {
    return absl::FailedPreconditionError(absl::StrCat(
        own, " is not a directory of this server's user that only it may "
             "write (another user may have made it); remove it"));
  }
  RETURN_IF_ERROR(access);
  return own;
}

}  // namespace

absl::StatusOr<std::string> OpenStoreDirectory(const std::string& shm_dir,
                                               const std::string& name_space,
                                               std::optional<gid_t> group) {
  ASSIGN_OR_RETURN(const std::string dir, CanonicalDirectory(shm_dir));
  return OwnDirectory(dir, name_space, group);
}

absl::StatusOr<NamespaceLock> NamespaceLock::Acquire(const std::string& dir,
                                                     const std::string& name_space,
                                                     absl::Duration wait) {
  const std::string path = absl::StrCat(dir, "/", name_space, ".lock");
  constexpr int kFlags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  int fd = open(path.c_str(), kFlags | O_CREAT | O_EXCL, 0600);
  if (fd < 0 && errno == EEXIST) fd = open(path.c_str(), kFlags);
  if (fd < 0 && errno != ELOOP) return PosixError(errno, "open lock file", path);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_uid != geteuid() || st.st_nlink != 1 || (st.st_mode & 0022) != 0) {
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a file of this server's user that only it may write "
              "(another user may have planted it); remove it"));
  }
  // A server that is still exiting holds the lock for a few seconds more.
  const absl::Time deadline = absl::Now() + wait;
  bool said = false;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK && absl::Now() < deadline) {
      if (!said) {
        LogInfo("namespace \"%s\" in %s is locked by another server; waiting "
                "up to %s for it to exit",
                name_space, dir, absl::FormatDuration(wait));
        said = true;
      }
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another process owns namespace \"", name_space, "\" in ", dir,
          " (", path, " is locked", said ? absl::StrCat(
              " after waiting ", absl::FormatDuration(wait)) : "", ")"));
    }
    return PosixError(error, "flock", path);
  }
  return NamespaceLock(fd);
}

NamespaceLock::NamespaceLock(NamespaceLock&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)) {}

NamespaceLock& NamespaceLock::operator=(NamespaceLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

NamespaceLock::~NamespaceLock() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace matcache
