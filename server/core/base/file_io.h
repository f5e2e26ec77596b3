// Whole reads and writes at an offset: pread and pwrite until done.
#ifndef MATCACHE_SERVER_CORE_BASE_FILE_IO_H_
#define MATCACHE_SERVER_CORE_BASE_FILE_IO_H_

#include <sys/types.h>

#include <cstddef>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Reads up to `size` bytes at `offset` of `fd` into `out`, retrying short
// reads and EINTR; returns how many were read, fewer than `size` only where
// the file ends. The error (PosixError) names `path`.
absl::StatusOr<size_t> ReadAt(int fd, char* out, size_t size, off_t offset,
                              absl::string_view path);

// Writes all `size` bytes at `data` at `offset` of `fd`, retrying short
// writes and EINTR. The error (PosixError) names `path`.
absl::Status WriteAt(int fd, const char* data, size_t size, off_t offset,
                     absl::string_view path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_FILE_IO_H_
