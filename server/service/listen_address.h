// Parsing and preparing the addresses matcached listens on.
#ifndef MATCACHE_SERVER_SERVICE_LISTEN_ADDRESS_H_
#define MATCACHE_SERVER_SERVICE_LISTEN_ADDRESS_H_

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
// the bad entry; an empty list is also refused.
absl::StatusOr<std::vector<ListenAddress>> ParseListenAddresses(
    absl::string_view list);

// Creates the socket's directory if missing (mode 0755) and removes a stale
// socket file left by a previous run. FAILED_PRECONDITION if the path holds
// something other than a socket, or a live server listens on it.
absl::Status PrepareUnixSocketPath(const std::string& path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_LISTEN_ADDRESS_H_
