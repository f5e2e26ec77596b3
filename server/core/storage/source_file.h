// SourceFile: an open .npy source. Sources live in directories the operator
// names (--data_dir, --preload_dir, --persist_dir), which other users may be
// able to change: every open goes through the kernel's path resolution
// beneath one of them (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS),
// without blocking, and must find a regular file. So a symlink or directory
// swapped in after a path was checked never leads outside, and a FIFO or a
// device never blocks a thread.
#ifndef MATCACHE_SERVER_CORE_STORAGE_SOURCE_FILE_H_
#define MATCACHE_SERVER_CORE_STORAGE_SOURCE_FILE_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace matcache {

class SourceFile {
 public:
  // Opens `path`, absolute, for reading beneath the first of `roots`
  // (canonical directories) that it starts with. PERMISSION_DENIED if it is
  // beneath none of them, has a ".." component, or goes through a symbolic
  // link; NOT_FOUND if it does not exist; INVALID_ARGUMENT if it is not a
  // regular file, or holds a NUL byte.
  static absl::StatusOr<SourceFile> Open(absl::Span<const std::string> roots,
                                         absl::string_view path);

  SourceFile(SourceFile&& other) noexcept;
  SourceFile& operator=(SourceFile&& other) noexcept;
  ~SourceFile();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  SourceFile(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}

  int fd_;
  std::string path_;
};

// Resolves `path` (absolute, or relative to `root`, a canonical directory)
// to the path of a regular file beneath `root`, as SourceFile::Open finds
// it, with no "." or empty components. Its errors.
absl::StatusOr<std::string> ResolveSourcePath(const std::string& root,
                                              absl::string_view path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_SOURCE_FILE_H_
