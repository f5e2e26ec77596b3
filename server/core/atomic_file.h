// Replacing a small file so that readers see either the old or the new
// contents, never a mix: write aside, then rename over.
#ifndef MATCACHE_SERVER_CORE_ATOMIC_FILE_H_
#define MATCACHE_SERVER_CORE_ATOMIC_FILE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Writes `contents` to "<path>.tmp" (mode 0600) and renames it to `path`.
// On error no temporary file is left behind.
absl::Status ReplaceFile(const std::string& path, absl::string_view contents);

// OK if `path` does not exist, or is a regular file (not a symlink) of this
// process's user that no other user may write. FAILED_PRECONDITION naming
// the file otherwise: in a shared directory, another user could have
// planted it to steer this process.
absl::Status CheckOwnFile(const std::string& path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ATOMIC_FILE_H_
