// Reading .npy files from disk into staging segments, and resolving the
// paths clients name against the directory sources must live in.
#ifndef MATCACHE_SERVER_CORE_NPY_FILE_H_
#define MATCACHE_SERVER_CORE_NPY_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/npy.h"
#include "server/core/segment.h"

namespace matcache {

// Resolves `path` (absolute, or relative to `root`) to a canonical path of
// a regular file inside the canonical directory `root`. PERMISSION_DENIED if
// it has a ".." component or resolves (through symlinks) outside `root`;
// NOT_FOUND if it does not exist; INVALID_ARGUMENT if not a regular file.
absl::StatusOr<std::string> ResolveSourcePath(const std::string& root,
                                              absl::string_view path);

// Reads and parses the header of the .npy file at `path`, and checks that
// the file holds all the data it announces. INVALID_ARGUMENT naming the
// file for anything malformed.
absl::StatusOr<NpyHeader> ReadNpyFileHeader(const std::string& path);

// Fills the data of `staging` (created for header.shape and header.dtype)
// from the .npy file at `path`: read straight into the mapping when the file
// is C-ordered and little-endian, else through a buffer that is converted.
absl::Status ReadNpyFileData(const std::string& path, const NpyHeader& header,
                             Segment& staging);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_NPY_FILE_H_
