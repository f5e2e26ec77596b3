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

// As CopyWithChecksum, into [to, to + size) of a writable shared mapping of
// the file `to_name`, whose space must be preallocated (preallocate.h):
// each thread prefaults a block's pages, reads the block straight into the
// mapping a piece at a time and hashes each piece there. One copy instead
// of two, and no file lock shared by the threads' writes; but taking the
// pages by fault costs about what that saves on 4 KiB pages, and allocating
// them so (zeroed) costs more than through pwrite. Worth it where the
// mapping's pages are huge. Errors: as CopyWithChecksum's.
absl::StatusOr<uint64_t> CopyIntoMappingWithChecksum(FileRange from, char* to,
                                                     const std::string& to_name,
                                                     size_t size, int threads);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_CHECKSUMMED_COPY_H_
