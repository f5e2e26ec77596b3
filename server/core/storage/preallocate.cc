#include "server/core/storage/preallocate.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "absl/strings/str_format.h"
#include "server/core/base/posix_error.h"

namespace matcache {

absl::Status Preallocate(int fd, off_t offset, off_t length,
                         const std::string& path) {
  int error;
  do {
    error = posix_fallocate(fd, offset, length);
  } while (error == EINTR);
  if (error == 0) return absl::OkStatus();
  if (error == ENOSPC || error == EFBIG || error == EDQUOT) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "not enough space to preallocate bytes %d to %d of %s: %s",
        static_cast<int64_t>(offset), static_cast<int64_t>(offset + length),
        path, std::strerror(error)));
  }
  return PosixError(error, "posix_fallocate", path);
}

absl::Status PopulateWrite(char* map, size_t size, const std::string& path) {
  if (madvise(map, size, MADV_POPULATE_WRITE) == 0 || errno == EINVAL) {
    return absl::OkStatus();
  }
  return PosixError(errno, "madvise(MADV_POPULATE_WRITE)", path);
}

}  // namespace matcache
