// The store's small metadata files (retention, sources, the persisted
// .meta files): replaced so that readers see either the old or the new
// contents, never a mix, and durably; read only if this process made them.
#ifndef MATCACHE_SERVER_CORE_STORAGE_ATOMIC_FILE_H_
#define MATCACHE_SERVER_CORE_STORAGE_ATOMIC_FILE_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Writes `contents` to a new "<path>.tmp" (created with O_EXCL after
// removing one a crash left) with `mode` and, if given, `group`, fsyncs it,
// renames it to `path` and fsyncs the directory. On error no temporary file
// is left behind.
absl::Status ReplaceFile(const std::string& path, absl::string_view contents,
                         mode_t mode = 0600,
                         std::optional<gid_t> group = std::nullopt);

// The contents of `path`, or nullopt if it does not exist. Opened without
// following a symlink or blocking on a FIFO; FAILED_PRECONDITION naming the
// file unless it is a regular file of this process's user, with one link,
// that no other user may write (another user could have planted it to
// steer this process); errors of the system calls otherwise.
absl::StatusOr<std::optional<std::string>> ReadOwnFile(const std::string& path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_ATOMIC_FILE_H_
