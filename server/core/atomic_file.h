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

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ATOMIC_FILE_H_
