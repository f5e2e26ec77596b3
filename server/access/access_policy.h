// AccessPolicy: which calls must present a token. Callers send it as the
// metadata "authorization: Bearer <token>". A write token guards the calls
// that change the catalogue; an optional read token guards the rest, which
// the write token also opens; both apply on every transport. A TCP-only
// policy (the server's generated access token) needs its token for every
// call over TCP and none on unix sockets, whose file modes already decide
// who connects. Without tokens every call is allowed.
//
// Immutable after construction, so thread-safe.
#ifndef MATCACHE_SERVER_ACCESS_ACCESS_POLICY_H_
#define MATCACHE_SERVER_ACCESS_ACCESS_POLICY_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

enum class Access { kRead, kWrite };
enum class Transport { kUnixSocket, kTcp };

class AccessPolicy {
 public:
  // Empty tokens leave that access open.
  AccessPolicy() = default;
  AccessPolicy(std::string read_token, std::string write_token);
  // Needs `token` for every call over TCP, none on unix sockets; `token_file`
  // (where clients on this host may read it) is named in refusals.
  static AccessPolicy TcpOnly(std::string token, std::string token_file);

  // Whether read or write tokens apply (on every transport).
  bool has_tokens() const { return !write_token_.empty(); }

  // Whether a call `rpc` needing `access`, arriving over `transport`, may
  // run, given the value of its "authorization" metadata (nullopt if
  // absent). UNAUTHENTICATED if a token is needed and none was sent (or not
  // as "Bearer <token>"), PERMISSION_DENIED if the token sent is not one
  // that grants `access`. Tokens are compared in time independent of where
  // they differ.
  absl::Status Check(std::optional<absl::string_view> authorization,
                     Access access, Transport transport,
                     absl::string_view rpc) const;

 private:
  std::string read_token_;
  std::string write_token_;
  std::string tcp_token_;
  std::string tcp_token_file_;
};

// Reads a token from `path`: its contents without surrounding whitespace.
// INVALID_ARGUMENT if the file is empty, contains whitespace inside the
// token, is not a regular file, or other users may read or write it (a
// token in a world-readable file guards nothing); errors of open otherwise.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_ACCESS_ACCESS_POLICY_H_
