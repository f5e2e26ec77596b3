// Reading .npy files from disk into staging segments.
#ifndef MATCACHE_SERVER_CORE_STORAGE_NPY_FILE_H_
#define MATCACHE_SERVER_CORE_STORAGE_NPY_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/format/npy.h"
#include "server/core/storage/segment.h"

namespace matcache {

// Reads and parses the header of the .npy file open as `fd` (named `path`
// in messages; see SourceFile), and checks that the file holds all the data
// it announces. INVALID_ARGUMENT naming the file for anything malformed.
absl::StatusOr<NpyHeader> ReadNpyFileHeader(int fd, const std::string& path);

// Fills the data of `staging` (created for header.shape and header.dtype)
// from the .npy file open as `fd`: copied as is on up to `threads` threads,
// with its checksum recorded (Segment::CopyDataFrom), when the file is
// C-ordered and little-endian; else read and converted a piece at a time
// (NpyDataWriter), with memory bounded whatever the matrix's size.
absl::Status ReadNpyFileData(int fd, const std::string& path,
                             const NpyHeader& header, Segment& staging,
                             int threads);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_NPY_FILE_H_
