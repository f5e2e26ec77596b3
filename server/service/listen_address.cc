#include "server/service/listen_address.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"
#include "server/core/storage/fd_handoff.h"

namespace matcache {
namespace {

absl::Status BadAddress(absl::string_view entry, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(
      "listen address \"", entry, "\" ", why,
      "; expected unix:/ABSOLUTE/PATH or HOST:PORT"));
}

absl::StatusOr<ListenAddress> ParseOne(absl::string_view entry) {
  ListenAddress address;
  absl::string_view rest = entry;
  if (absl::ConsumePrefix(&rest, "unix:")) {
    if (!absl::StartsWith(rest, "/")) {
      return BadAddress(entry, "is not an absolute socket path");
    }
    // Its fd socket, beside it, takes a suffix more.
    if (rest.size() + std::strlen(kFdSocketSuffix) >=
        sizeof(sockaddr_un::sun_path)) {
      return BadAddress(entry, "is longer than a unix socket path may be");
    }
    address.is_unix = true;
    address.unix_path = std::string(rest);
    address.uri = std::string(entry);
    return address;
  }
  const size_t colon = rest.rfind(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return BadAddress(entry, "has no host and port");
  }
  uint32_t port;
  if (!absl::SimpleAtoi(rest.substr(colon + 1), &port) || port > 65535) {
    return BadAddress(entry, "has no valid port (0-65535)");
  }
  address.uri = std::string(entry);
  return address;
}

// True if a process accepts connections on the unix socket `path`.
bool SomeoneListens(const std::string& path) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  const bool connected =
      connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) == 0;
  close(fd);
  return connected;
}

// Gives `path`, a file of this process's user, `group` (if any) and then
// exactly `mode`.
absl::Status SetGroupAndMode(const std::string& path, std::optional<gid_t> group,
                             mode_t mode) {
  if (group.has_value() &&
      chown(path.c_str(), static_cast<uid_t>(-1), *group) != 0) {
    return PosixError(errno, "chown", path);
  }
  if (chmod(path.c_str(), mode) != 0) return PosixError(errno, "chmod", path);
  return absl::OkStatus();
}

// Creates the missing directories above `directory` with mode 0755, whatever
// the umask, so that the socket's users can pass through them.
absl::Status CreateParents(const std::filesystem::path& directory) {
  std::filesystem::path prefix;
  for (const std::filesystem::path& part : directory.parent_path()) {
    prefix /= part;
    if (mkdir(prefix.c_str(), 0755) == 0) {
      if (chmod(prefix.c_str(), 0755) != 0) {
        return PosixError(errno, "chmod", prefix.string());
      }
    } else if (errno != EEXIST) {
      return PosixError(errno, "mkdir", prefix.string());
    }
  }
  return absl::OkStatus();
}

// Creates `directory` (mode 0700) if missing; then, if it is this user's and
// closed to other users, gives it `group` and mode 0750, or mode 0700.
absl::Status PrepareSocketDirectory(const std::string& directory,
                                    std::optional<gid_t> group) {
  RETURN_IF_ERROR(CreateParents(directory));
  if (mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    return PosixError(errno, "mkdir", directory);
  }
  struct stat st;
  if (lstat(directory.c_str(), &st) != 0) {
    return PosixError(errno, "stat", directory);
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket directory ", directory, " is not a directory"));
  }
  if (st.st_uid != geteuid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "socket directory ", directory, " belongs to user ", st.st_uid,
        ", not to this server's user ", geteuid(),
        "; remove it or put the socket in a directory of its own"));
  }
  if ((st.st_mode & 0007) != 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "socket directory %s is open to every user (mode %04o); put the socket "
        "in a directory of its own, which matcached makes 0700 (0750 with "
        "--group)",
        directory, st.st_mode & 07777));
  }
  return SetGroupAndMode(directory, group, group.has_value() ? 0750 : 0700);
}

}  // namespace

absl::Status SecureUnixSocket(const std::string& path,
                              std::optional<gid_t> group) {
  return SetGroupAndMode(path, group, group.has_value() ? 0660 : 0600);
}

absl::StatusOr<std::vector<ListenAddress>> ParseListenAddresses(
    absl::string_view list) {
  std::vector<ListenAddress> addresses;
  for (absl::string_view entry :
       absl::StrSplit(list, ',', absl::SkipWhitespace())) {
    absl::StatusOr<ListenAddress> address =
        ParseOne(absl::StripAsciiWhitespace(entry));
    if (!address.ok()) return address.status();
    addresses.push_back(*std::move(address));
  }
  if (addresses.empty()) {
    return absl::InvalidArgumentError("no listen address given");
  }
  return addresses;
}

absl::Status PrepareUnixSocketPath(const std::string& path,
                                   std::optional<gid_t> group) {
  RETURN_IF_ERROR(PrepareSocketDirectory(
      std::filesystem::path(path).parent_path().string(), group));
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return PosixError(errno, "stat", path);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " exists and is not a socket; not replacing it"));
  }
  if (SomeoneListens(path)) {
    return absl::FailedPreconditionError(
        absl::StrCat("another server is listening on ", path));
  }
  if (unlink(path.c_str()) != 0) return PosixError(errno, "unlink", path);
  return absl::OkStatus();
}

}  // namespace matcache
