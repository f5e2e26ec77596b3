#include "server/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "server/core/posix_error.h"

namespace matcache {

absl::Status ReplaceFile(const std::string& path, absl::string_view contents) {
  const std::string aside = path + ".tmp";
  const int fd = open(aside.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError(errno, "create", aside);
  size_t written = 0;
  while (written < contents.size()) {
    const ssize_t n =
        write(fd, contents.data() + written, contents.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      unlink(aside.c_str());
      return PosixError(error, "write", aside);
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(aside.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(aside.c_str());
    return PosixError(error, "rename", aside);
  }
  return absl::OkStatus();
}

absl::Status CheckOwnFile(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return PosixError(errno, "stat", path);
  }
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
      (st.st_mode & 0022) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a file of this server's user that only it may write "
              "(another user may have planted it); remove it"));
  }
  return absl::OkStatus();
}

}  // namespace matcache
