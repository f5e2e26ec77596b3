// MatcacheServer: a running matcached: the store, the worker pool, the gRPC
// server with the v1 service, health checking and reflection, the fd
// sockets that hand staging files to their writers, the watch hub that
// feeds Watch and the HTTP event streams, and the sweeper that aborts
// expired leases.
#ifndef MATCACHE_SERVER_SERVICE_SERVER_H_
#define MATCACHE_SERVER_SERVICE_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/cache/store.h"
#include "server/http/gateway.h"
#include "server/http/http_server.h"
#include "server/access/access_policy.h"
#include "server/access/shared_access_policy.h"
#include "server/metrics/metrics.h"
#include "server/service/call_counter.h"
#include "server/service/fd_handoff_server.h"
#include "server/service/listen_address.h"
#include "server/service/matrix_cache_service.h"
#include "server/service/reloadable_tls_credentials.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"
#include "server/watch/watch_hub.h"

namespace matcache {

// What TCP listeners need without token files: the generated access token
// (see AccessPolicy::TcpOnly), or nothing.
enum class TcpAuth { kToken, kNone };

struct ServerOptions {
  // Where to listen; see ParseListenAddresses.
  std::vector<ListenAddress> listen;
  StoreOptions store;
  ServiceOptions service;
  // Tokens callers must present (see AccessPolicy); Reload replaces them.
  AccessPolicy access;
  // Threads for blocking work, and how many requests may wait for them.
  int worker_threads = 4;
  size_t max_queued_work = 1024;
  // Largest message a client may send (Put chunks must fit).
  int max_receive_message_bytes = 8 << 20;
  // Concurrent calls one client connection may have open.
  int max_concurrent_streams_per_connection = 100;
  // Memory gRPC may use for all connections and calls (a ResourceQuota).
  int64_t grpc_memory_bytes = int64_t{1} << 30;
  // A Put, Read or Preview stream that neither sends nor receives for this
  // long is cancelled.
  absl::Duration stream_idle_timeout = absl::Seconds(120);
  // The server pings connections idle this long, and closes those that do
  // not answer within keepalive_timeout; clients may ping no more often
  // than min_client_ping_interval.
  absl::Duration keepalive_time = absl::Seconds(60);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  // Group whose members may use the unix sockets (gRPC and fd sockets
  // 0660 in a 0750 directory) and read the published segments (0440);
  // nullopt: the server's user only (0600 in 0700, 0400). Staging segments
  // are 0600 either way: their writers get a descriptor from the fd socket.
  std::optional<gid_t> group;
  // The fd sockets (see FdHandoffServer): connections served at once, and
  // how long one may take to send its lease.
  int fd_handoff_max_connections = 64;
  absl::Duration fd_handoff_timeout = absl::Seconds(2);
  // TLS for TCP listeners; nullopt: plaintext. Reload replaces it.
  std::optional<TlsOptions> tls;
  // Without token files (`access`) nor client certificates, kToken
  // makes TCP calls, gRPC and the HTTP gateway's data requests alike, need
  // the token kept in access.token beside the first unix socket, made at
  // the first start (a TCP listener without a unix socket is then refused).
  TcpAuth tcp_auth = TcpAuth::kToken;
  // How long Shutdown lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(5);
  // The HTTP gateway; no listen address: none. Its listeners speak HTTPS
  // with `tls`.
  HttpServerOptions http;
  // Most elements an HTTP format=json data response may hold.
  int64_t http_json_max_elements = 1'000'000;
  // Most bytes of whole HTTP answers held until their clients read them.
  int64_t http_answer_memory_bytes = int64_t{256} << 20;
  // Events a watcher (Watch, /v1/events) may fall behind before it is
  // dropped.
  size_t watch_queue_events = WatchHub::kDefaultQueueEvents;
  // How often an idle HTTP event stream gets a comment line.
  absl::Duration sse_heartbeat = absl::Seconds(15);
  // Every *.npy file here becomes the source of a matrix named after its
  // stem, at start (read on first access). Empty: none.
  std::string preload_dir;
};

class MatcacheServer {
 public:
  // Opens (and recovers) the store, then starts serving on every address.
  // Errors from Store::Open, or UNAVAILABLE if an address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MatcacheServer>> Start(
      ServerOptions options);

  // Shuts down if still serving.
  ~MatcacheServer();

  // The addresses being served, with the chosen port for "HOST:0".
  const std::vector<std::string>& addresses() const { return addresses_; }
  // The HTTP gateway's addresses, with the chosen port for "HOST:0"; empty
  // without one.
  std::vector<std::string> http_addresses() const;
  // The file holding the access token TCP calls need; empty if none.
  const std::string& access_token_file() const { return access_token_file_; }
  Store& store() { return *store_; }

  // Stops accepting calls, lets in-flight calls finish for up to
  // shutdown_grace, cancels the rest, closes every connection (an idle one
  // does not delay it), closes and removes the fd sockets, and removes
  // every staging file. Published matrices stay. Idempotent.
  void Shutdown();

  // Takes up changed token files and TLS certificates (SIGHUP): `tokens`,
  // the policy of the token files, replaces the one in force if the server
  // was started with token files (the generated access token stays
  // otherwise); `tls` replaces the certificates of the gRPC and HTTPS
  // listeners for handshakes from now on. Calls and connections in progress
  // go on. INVALID_ARGUMENT, changing nothing, if `tokens` has none where
  // token files are in use, `tls` is set without TLS or unset with it, gives
  // a client CA or drops it, or (with HTTPS listeners) is unusable.
  absl::Status Reload(AccessPolicy tokens, std::optional<TlsOptions> tls);

 private:
  MatcacheServer(ServerOptions options, std::unique_ptr<Store> store);
  absl::Status StartGrpc();
  // Starts the HTTP gateway on options_.http.listen, if any.
  absl::Status StartHttp();
  // Registers the *.npy files of options_.preload_dir as sources.
  absl::Status Preload();
  // With a persist_dir: persists every publication in the background and
  // adopts what an earlier run persisted.
  void StartPersisting();
  // Periodically aborts expired leases, deletes expired matrices and
  // cancels idle streams.
  void Sweep();
  // Credentials for listening on `address`.
  std::shared_ptr<grpc::ServerCredentials> CredentialsFor(
      const ListenAddress& address) const;

  const ServerOptions options_;
  SharedAccessPolicy access_;
  // Set with options_.tls; shared by every TCP listener.
  std::shared_ptr<ReloadableTlsCredentials> tls_credentials_;
  // Told of the store's changes (they outlive the store): persists puts;
  // feeds the watchers.
  std::unique_ptr<CatalogueListener> persister_;
  std::unique_ptr<WatchHub> watches_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WorkerPool> pool_;
  StreamWatchdog watchdog_;
  Metrics metrics_;
  CallCounter calls_;
  std::unique_ptr<MatrixCacheService> service_;
  std::unique_ptr<FdHandoffServer> fd_server_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<Gateway> gateway_;
  std::vector<std::string> addresses_;
  std::string access_token_file_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_SERVER_H_
