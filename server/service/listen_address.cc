#include "server/service/listen_address.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "server/core/posix_error.h"

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
    if (rest.size() >= sizeof(sockaddr_un::sun_path)) {
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

}  // namespace

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

absl::Status PrepareUnixSocketPath(const std::string& path) {
  const std::filesystem::path directory =
      std::filesystem::path(path).parent_path();
  std::error_code error;
  if (std::filesystem::create_directories(directory, error)) {
    std::filesystem::permissions(directory, std::filesystem::perms(0755),
                                 error);
  }
  if (error) return PosixError(error.value(), "mkdir", directory.string());
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
