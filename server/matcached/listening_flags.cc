// matcached's listening flags (see flags.h).
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/matcached/flags.h"
#include "server/service/listen_address.h"

namespace {

// The socket goes in $RUNTIME_DIRECTORY, which systemd sets for a unit with
// RuntimeDirectory= (/run/matcache), else in /tmp/matcache.
std::string DefaultListen() {
  const char* runtime_directory = std::getenv("RUNTIME_DIRECTORY");
  const std::string directory =
      runtime_directory != nullptr && runtime_directory[0] == '/'
          ? runtime_directory
          : "/tmp/matcache";
  return absl::StrCat("unix:", directory, "/matcached.sock,127.0.0.1:7470");
}

}  // namespace

ABSL_FLAG(std::string, listen, DefaultListen(),
          "Comma-separated addresses to serve on: unix:/ABSOLUTE/PATH for a "
          "unix socket (its directory is created if missing) and HOST:PORT "
          "for TCP (port 0 picks a free port). The default listens on "
          "loopback only, with the socket in $RUNTIME_DIRECTORY when systemd "
          "sets it (/run/matcache), else in /tmp/matcache.");

ABSL_FLAG(std::string, http_listen, "127.0.0.1:7471",
          "Comma-separated HOST:PORT addresses of the HTTP gateway (health, "
          "metrics, REST and Zarr; HTTPS with --tls_cert); port 0 picks a "
          "free port. Empty: no HTTP.");

namespace matcache {

absl::Status ApplyListeningFlags(ServerOptions* options) {
  absl::StatusOr<std::vector<ListenAddress>> listen =
      ParseListenAddresses(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) return listen.status();
  options->listen = *std::move(listen);
  options->http.listen =
      absl::StrSplit(absl::GetFlag(FLAGS_http_listen), ',', absl::SkipEmpty());
  return absl::OkStatus();
}

}  // namespace matcache
