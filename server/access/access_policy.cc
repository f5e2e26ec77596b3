#include "server/access/access_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/base/posix_error.h"

namespace matcache {
namespace {

constexpr absl::string_view kBearer = "Bearer";
// Larger files are not token files.
constexpr ssize_t kMaxTokenFileBytes = 4096;

// Whether `presented` equals `expected`, in time that depends only on the
// length of `expected`.
bool TokensEqual(absl::string_view presented, absl::string_view expected) {
  volatile unsigned char difference = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    const unsigned char sent =
        i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    difference |= sent ^ static_cast<unsigned char>(expected[i]);
  }
  return difference == 0;
}

// The token of an "authorization: Bearer <token>" value; nullopt for none
// or another scheme. The scheme's case does not matter (RFC 9110 §11.1).
std::optional<absl::string_view> BearerToken(
    std::optional<absl::string_view> authorization) {
  if (!authorization.has_value()) return std::nullopt;
  absl::string_view value = *authorization;
  if (!absl::StartsWithIgnoreCase(value, kBearer)) return std::nullopt;
  value.remove_prefix(kBearer.size());
  if (!absl::ConsumePrefix(&value, " ")) return std::nullopt;
  while (absl::ConsumePrefix(&value, " ")) {
  }
  return value;
}

}  // namespace

AccessPolicy::AccessPolicy(std::string read_token, std::string write_token)
    : read_token_(std::move(read_token)), write_token_(std::move(write_token)) {}

AccessPolicy AccessPolicy::TcpOnly(std::string token, std::string token_file) {
  AccessPolicy policy;
  policy.tcp_token_ = std::move(token);
  policy.tcp_token_file_ = std::move(token_file);
  return policy;
}

absl::Status AccessPolicy::Check(std::optional<absl::string_view> authorization,
                                 Access access, Transport transport,
                                 absl::string_view rpc) const {
  if (!tcp_token_.empty()) {
    if (transport == Transport::kUnixSocket) return absl::OkStatus();
    const std::optional<absl::string_view> token = BearerToken(authorization);
    if (!token.has_value()) {
      return absl::UnauthenticatedError(absl::StrCat(
          rpc, " over TCP needs this server's access token: clients on its "
               "host that may read ", tcp_token_file_,
          " (the server's user and group) use it by themselves; others send "
          "it as the metadata 'authorization: Bearer <token>' "
          "($MATCACHE_TOKEN, or $MATCACHE_TOKEN_FILE naming a copy)"));
    }
    if (TokensEqual(*token, tcp_token_)) {
      return absl::OkStatus();
    }
    return absl::PermissionDeniedError(absl::StrCat(
        "the token sent with ", rpc, " is not this server's access token (",
        tcp_token_file_, ")"));
  }
  const bool needs_token = access == Access::kWrite ? !write_token_.empty()
                                                    : !read_token_.empty();
  if (!needs_token) return absl::OkStatus();
  const absl::string_view kind = access == Access::kWrite ? "write" : "read";
  const std::optional<absl::string_view> token = BearerToken(authorization);
  if (!token.has_value()) {
    return absl::UnauthenticatedError(absl::StrCat(
        rpc, " needs this server's ", kind,
        " token: send it as the metadata 'authorization: Bearer <token>' "
        "(the clients take a token argument or $MATCACHE_TOKEN)"));
  }
  // Both comparisons always run: timing does not tell which token matched.
  const bool write_ok = !write_token_.empty() && TokensEqual(*token, write_token_);
  const bool read_ok = access == Access::kRead && TokensEqual(*token, read_token_);
  if (write_ok || read_ok) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "the token sent with ", rpc, " is not this server's ", kind, " token"));
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  // O_NONBLOCK: a FIFO must not hang the server before it is refused.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return PosixError(errno, "open token file", path);
  struct stat st;
  std::string contents(kMaxTokenFileBytes + 1, '\0');
  ssize_t size = -1;
  const bool stated = fstat(fd, &st) == 0;
  if (stated && S_ISREG(st.st_mode)) {
    size = read(fd, contents.data(), contents.size());
  }
  const int error = errno;
  close(fd);
  if (!stated) return PosixError(error, "stat token file", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " is not a regular file"));
  }
  if (size < 0) return PosixError(error, "read token file", path);
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", path,
        " may be read or written by every user; chmod o-rw it first"));
  }
  if (size > kMaxTokenFileBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", path, " is larger than ", kMaxTokenFileBytes, " bytes"));
  }
  contents.resize(static_cast<size_t>(size));
  const absl::string_view token = absl::StripAsciiWhitespace(contents);
  if (token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("token file ", path, " holds no token"));
  }
  for (const char c : token) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        !absl::ascii_isprint(static_cast<unsigned char>(c))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "token file ", path,
          " holds whitespace or control characters inside its token"));
    }
  }
  return std::string(token);
}

}  // namespace matcache
