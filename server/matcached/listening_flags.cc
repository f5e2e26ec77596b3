// matcached's listening flags (see flags.h).
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "server/matcached/flags.h"
#include "server/service/listen_address.h"

ABSL_FLAG(std::string, listen, "unix:/tmp/matcache/matcached.sock,127.0.0.1:7470",
          "Comma-separated addresses to serve on: unix:/ABSOLUTE/PATH for a "
          "unix socket (its directory is created if missing) and HOST:PORT "
          "for TCP (port 0 picks a free port). The default listens on "
          "loopback only.");

namespace matcache {

absl::Status ApplyListeningFlags(ServerOptions* options) {
  absl::StatusOr<std::vector<ListenAddress>> listen =
      ParseListenAddresses(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) return listen.status();
  options->listen = *std::move(listen);
  return absl::OkStatus();
}

}  // namespace matcache
