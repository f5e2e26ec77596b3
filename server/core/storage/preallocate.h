// Preallocation of file space, so that nobody touching a mapped page of the
// file can die of SIGBUS for lack of space (docs/architecture.md §5 rule 1).
#ifndef MATCACHE_SERVER_CORE_STORAGE_PREALLOCATE_H_
#define MATCACHE_SERVER_CORE_STORAGE_PREALLOCATE_H_

#include <sys/types.h>

#include <string>

#include "absl/status/status.h"

namespace matcache {

// posix_fallocate of `length` bytes at `offset` of `fd` (the file `path`),
// retried on EINTR. RESOURCE_EXHAUSTED, naming the byte range, when the
// filesystem lacks the space.
absl::Status Preallocate(int fd, off_t offset, off_t length,
                         const std::string& path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_PREALLOCATE_H_
