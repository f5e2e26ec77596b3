#include "server/core/base/file_io.h"

#include <unistd.h>

#include <cerrno>

#include "server/core/base/posix_error.h"

namespace matcache {

absl::StatusOr<size_t> ReadAt(int fd, char* out, size_t size, off_t offset,
                              absl::string_view path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, out + done, size - done,
                            offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(errno, "read", path);
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

absl::Status WriteAt(int fd, const char* data, size_t size, off_t offset,
                     absl::string_view path) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(fd, data + done, size - done,
                             offset + static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(errno, "write", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace matcache
