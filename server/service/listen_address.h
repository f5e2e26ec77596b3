// Parsing and preparing the addresses matcached listens on.
#ifndef MATCACHE_SERVER_SERVICE_LISTEN_ADDRESS_H_
#define MATCACHE_SERVER_SERVICE_LISTEN_ADDRESS_H_

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

struct ListenAddress {
  bool is_unix = false;
  std::string unix_path;  // absolute socket path, if is_unix
  std::string uri;        // as gRPC takes it: "unix:/path" or "host:port"
};

// Parses a comma-separated list of "unix:/ABSOLUTE/PATH" and "HOST:PORT"
// ("[::1]:7470" for IPv6; port 0 picks a free one). INVALID_ARGUMENT naming
// the bad entry (a unix path must leave room for the fd socket's suffix,
// see FdSocketPath); an empty list is also refused.
absl::StatusOr<std::vector<ListenAddress>> ParseListenAddresses(
    absl::string_view list);

// Prepares the directory of the socket `path`: creates it if missing (mode
// 0700) and, as it must belong to this process's user and be closed to other
// users, gives it mode 0700, or `group` and mode 0750. Then removes a stale
// socket file left by a previous run. FAILED_PRECONDITION if the directory
// belongs to another user or is open to every user (give the socket a
// directory of its own), the path holds something other than a socket, or a
// live server listens on it.
absl::Status PrepareUnixSocketPath(const std::string& path,
                                   std::optional<gid_t> group);

// Gives the socket file `path` (made by this process) mode 0600, or `group`
// and mode 0660: the gRPC sockets and the fd sockets beside them alike.
absl::Status SecureUnixSocket(const std::string& path,
                              std::optional<gid_t> group);

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_LISTEN_ADDRESS_H_
