// The one place that turns a failed system call into an absl::Status.
#ifndef MATCACHE_SERVER_CORE_BASE_POSIX_ERROR_H_
#define MATCACHE_SERVER_CORE_BASE_POSIX_ERROR_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Returns a non-OK status for the system call `operation` that failed on
// `path` with `error_number` (an errno value). The code follows errno
// (ENOENT -> NOT_FOUND, ENOSPC -> RESOURCE_EXHAUSTED, EACCES ->
// PERMISSION_DENIED, ELOOP -> FAILED_PRECONDITION, ...); the message names the operation, the path and
// the system's description, e.g. "open /dev/shm/x: No such file or directory".
absl::Status PosixError(int error_number, absl::string_view operation,
                        absl::string_view path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_POSIX_ERROR_H_
