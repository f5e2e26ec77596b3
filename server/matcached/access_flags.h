// The flags of matcached that decide who may do what: --group, the token
// files and TLS.
#ifndef MATCACHE_SERVER_MATCACHED_ACCESS_FLAGS_H_
#define MATCACHE_SERVER_MATCACHED_ACCESS_FLAGS_H_

#include "absl/status/status.h"
#include "server/service/server.h"

namespace matcache {

// Fills options->group, options->service.access and options->tls from the
// flags, reading the files they name. INVALID_ARGUMENT (naming the flag)
// for inconsistent flags or unusable files.
absl::Status ApplyAccessFlags(ServerOptions* options);

}  // namespace matcache

#endif  // MATCACHE_SERVER_MATCACHED_ACCESS_FLAGS_H_
