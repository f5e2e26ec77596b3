// matcached's flags, in groups of one file each, as --help lists them:
// listening, storage, cache policy, access and limits. Each Apply function
// fills its part of ServerOptions from the flags and returns
// INVALID_ARGUMENT naming the flag for a value it cannot use.
#ifndef MATCACHE_SERVER_MATCACHED_FLAGS_H_
#define MATCACHE_SERVER_MATCACHED_FLAGS_H_

#include "absl/status/status.h"
#include "server/service/server.h"

namespace matcache {

// --listen.
absl::Status ApplyListeningFlags(ServerOptions* options);

// Where the store keeps its files and what it reads at start: --shm_dir,
// --namespace, --lock_wait_seconds, --data_dir, --preload_dir,
// --persist_dir, --verify_on_recover.
absl::Status ApplyStorageFlags(ServerOptions* options);

// What the cache keeps and for how long: --max_bytes (its default needs
// options->store.shm_dir, so apply the storage flags first),
// --max_matrix_bytes, --evict_unsourced, --spare_bytes,
// --spare_idle_seconds, --lease_seconds.
absl::Status ApplyCachePolicyFlags(ServerOptions* options);

// Who may do what: --group, the token files, --tcp_auth and TLS, reading
// the files they name; needs options->listen.
absl::Status ApplyAccessFlags(ServerOptions* options);

// The part of ApplyAccessFlags that a reload (SIGHUP) repeats: reads the
// token files into options->access and the TLS files into options->tls.
absl::Status ApplyCredentialFlags(ServerOptions* options);

// What one client may hold: message size, streams, gRPC memory, idle
// streams, HTTP connections, watch queues and heartbeats, worker threads.
absl::Status ApplyLimitFlags(ServerOptions* options);

}  // namespace matcache

#endif  // MATCACHE_SERVER_MATCACHED_FLAGS_H_
