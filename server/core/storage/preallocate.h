// Preallocation of file space, so that nobody touching a mapped page of the
// file can die of SIGBUS for lack of space (docs/architecture.md §5 rule 1),
// and prefaulting of the pages so preallocated.
#ifndef MATCACHE_SERVER_CORE_STORAGE_PREALLOCATE_H_
#define MATCACHE_SERVER_CORE_STORAGE_PREALLOCATE_H_

#include <sys/types.h>

#include <cstddef>

#include <string>

#include "absl/status/status.h"

namespace matcache {

// posix_fallocate of `length` bytes at `offset` of `fd` (the file `path`),
// retried on EINTR. RESOURCE_EXHAUSTED, naming the byte range, when the
// filesystem lacks the space.
absl::Status Preallocate(int fd, off_t offset, off_t length,
                         const std::string& path);

// Prefaults every page of the shared writable mapping [map, map + size) of
// the file `path`, so that later writes take no page faults. Kernels before
// 5.14 lack MADV_POPULATE_WRITE: then the pages fault in on first write
// instead, which is only slower.
absl::Status PopulateWrite(char* map, size_t size, const std::string& path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_PREALLOCATE_H_
