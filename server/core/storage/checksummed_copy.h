// Copying file data while computing its DataChecksum.
#ifndef MATCACHE_SERVER_CORE_STORAGE_CHECKSUMMED_COPY_H_
#define MATCACHE_SERVER_CORE_STORAGE_CHECKSUMMED_COPY_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace matcache {

// One end of a copy: an open file, where in it, and its name for messages.
struct FileRange {
  int fd;
  int64_t offset;
  const std::string& name;
};

// Copies `size` bytes from `from` to `to` and returns their DataChecksum
// (checksum.h), reading each byte once: each of up to `threads` threads
// takes whole checksum blocks and, a small piece at a time, reads it into a
// buffer of its own, hashes it there and writes it. Uses pread and pwrite
// only (works across filesystems; the files' positions do not move).
// Errors: INVALID_ARGUMENT if `from` ends early, or the read or write error
// naming its file; the bytes copied so far stay in `to`.
absl::StatusOr<uint64_t> CopyWithChecksum(FileRange from, FileRange to,
                                          size_t size, int threads);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_CHECKSUMMED_COPY_H_
