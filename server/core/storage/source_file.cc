#include "server/core/storage/source_file.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"

namespace matcache {
namespace {

// `relative` with "." and empty components dropped; PERMISSION_DENIED for
// "..", INVALID_ARGUMENT if nothing is left.
absl::StatusOr<std::string> Normalize(absl::string_view relative,
                                      absl::string_view path) {
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(relative, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::PermissionDeniedError(
          absl::StrCat("source path \"", path, "\" may not contain \"..\""));
    }
    parts.push_back(part);
  }
  if (parts.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("source path \"", path, "\" names no file"));
  }
  return absl::StrJoin(parts, "/");
}

absl::Status CheckNoNul(absl::string_view path) {
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "source path \"", absl::CEscape(path), "\" holds a NUL byte"));
  }
  return absl::OkStatus();
}

// Opens `relative` beneath the directory `root` as SourceFile::Open does.
absl::StatusOr<int> OpenBeneath(const std::string& root,
                                const std::string& relative,
                                const std::string& path) {
  const int dir = open(root.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dir < 0) return PosixError(errno, "open source directory", root);
  struct open_how how = {};
  how.flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const int fd = static_cast<int>(
      syscall(SYS_openat2, dir, relative.c_str(), &how, sizeof(how)));
  const int error = errno;
  close(dir);
  if (fd < 0) {
    if (error == ELOOP || error == EXDEV) {
      return absl::PermissionDeniedError(absl::StrCat(
          "source ", path, " goes through a symbolic link or out of ", root,
          "; sources must be plain files beneath it"));
    }
    return PosixError(error, "open source", path);
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    const int stat_error = errno;
    close(fd);
    return PosixError(stat_error, "stat source", path);
  }
  if (!S_ISREG(st.st_mode)) {
    close(fd);
    return absl::InvalidArgumentError(
        absl::StrCat("source ", path, " is not a regular file"));
  }
  return fd;
}

}  // namespace

absl::StatusOr<SourceFile> SourceFile::Open(absl::Span<const std::string> roots,
                                            absl::string_view path) {
  RETURN_IF_ERROR(CheckNoNul(path));
  for (const std::string& root : roots) {
    if (root.empty() || !absl::StartsWith(path, root + "/")) continue;
    ASSIGN_OR_RETURN(const std::string relative,
                     Normalize(path.substr(root.size() + 1), path));
    ASSIGN_OR_RETURN(const int fd,
                     OpenBeneath(root, relative, std::string(path)));
    return SourceFile(fd, std::string(path));
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "source ", path, " is outside the directories sources may come from (",
      absl::StrJoin(roots, ", "), ")"));
}

SourceFile::SourceFile(SourceFile&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

SourceFile& SourceFile::operator=(SourceFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

SourceFile::~SourceFile() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::string> ResolveSourcePath(const std::string& root,
                                              absl::string_view path) {
  RETURN_IF_ERROR(CheckNoNul(path));
  absl::string_view relative = path;
  if (absl::StartsWith(path, "/")) {
    if (!absl::StartsWith(path, root + "/")) {
      return absl::PermissionDeniedError(absl::StrCat(
          "source path \"", path, "\" is outside the data directory ", root));
    }
    relative = path.substr(root.size() + 1);
  }
  ASSIGN_OR_RETURN(const std::string normalized, Normalize(relative, path));
  const std::string resolved = absl::StrCat(root, "/", normalized);
  const std::string roots[] = {root};
  RETURN_IF_ERROR(SourceFile::Open(roots, resolved).status());
  return resolved;
}

}  // namespace matcache
