#include "server/core/storage/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "server/core/base/file_io.h"
#include "server/core/base/posix_error.h"

namespace matcache {
namespace {

// Larger metadata files are not ours: the largest, the sources file, holds
// a line of at most a few KiB per matrix.
constexpr off_t kMaxOwnFileBytes = off_t{1} << 30;

absl::Status WriteAll(int fd, absl::string_view contents, const std::string& path) {
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n =
        write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(errno, "write", path);
    written += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDirectoryOf(const std::string& path) {
  const std::string dir = path.substr(0, path.rfind('/') + 1);
  const int fd = open(dir.empty() ? "." : dir.c_str(),
                      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return PosixError(errno, "open directory", dir);
  const bool synced = fsync(fd) == 0;
  const int error = errno;
  close(fd);
  if (!synced) return PosixError(error, "fsync directory", dir);
  return absl::OkStatus();
}

}  // namespace

absl::Status ReplaceFile(const std::string& path, absl::string_view contents,
                         mode_t mode, std::optional<gid_t> group) {
  const std::string aside = path + ".tmp";
  if (unlink(aside.c_str()) != 0 && errno != ENOENT) {
    return PosixError(errno, "unlink", aside);
  }
  const int fd = open(aside.c_str(),
                      O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError(errno, "create", aside);
  absl::Status written = WriteAll(fd, contents, aside);
  if (written.ok() && group.has_value() &&
      fchown(fd, static_cast<uid_t>(-1), *group) != 0) {
    written = PosixError(errno, "chown", aside);
  }
  // Exactly `mode`, whatever the umask.
  if (written.ok() && fchmod(fd, mode) != 0) written = PosixError(errno, "chmod", aside);
  if (written.ok() && fsync(fd) != 0) written = PosixError(errno, "fsync", aside);
  close(fd);
  if (written.ok() && rename(aside.c_str(), path.c_str()) != 0) {
    written = PosixError(errno, "rename", aside);
  }
  if (!written.ok()) {
    unlink(aside.c_str());
    return written;
  }
  return SyncDirectoryOf(path);
}

absl::StatusOr<std::optional<std::string>> ReadOwnFile(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::nullopt;
    if (errno != ELOOP) return PosixError(errno, "open", path);
  }
  struct stat st;
  const bool ours = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                    st.st_uid == geteuid() && st.st_nlink == 1 &&
                    (st.st_mode & 0022) == 0 && st.st_size <= kMaxOwnFileBytes;
  if (!ours) {
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a file of this server's user that only it may write "
              "(another user may have planted it); remove it"));
  }
  std::string contents(static_cast<size_t>(st.st_size), '\0');
  absl::StatusOr<size_t> got =
      ReadAt(fd, contents.data(), contents.size(), 0, path);
  close(fd);
  if (!got.ok()) return got.status();
  contents.resize(*got);  // less if it shrank meanwhile: what is there
  return contents;
}

}  // namespace matcache
