// MatcacheServer: a running matcached: the store, the worker pool, the gRPC
// server with the v1 service, health checking and reflection, and the
// sweeper that aborts expired leases.
#ifndef MATCACHE_SERVER_SERVICE_SERVER_H_
#define MATCACHE_SERVER_SERVICE_SERVER_H_

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/store.h"
#include "server/service/listen_address.h"
#include "server/service/matrix_cache_service.h"
#include "server/service/worker_pool.h"

namespace matcache {

struct ServerOptions {
  // Where to listen; see ParseListenAddresses.
  std::vector<ListenAddress> listen;
  StoreOptions store;
  ServiceOptions service;
  // Threads for blocking work, and how many requests may wait for them.
  int worker_threads = 4;
  size_t max_queued_work = 1024;
  // Largest message a client may send (Put chunks must fit).
  int max_receive_message_bytes = 8 << 20;
  // Concurrent calls one client connection may have open.
  int max_concurrent_streams_per_connection = 100;
  // How long Shutdown lets in-flight calls finish before cancelling them.
  absl::Duration shutdown_grace = absl::Seconds(5);
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
  Store& store() { return *store_; }

  // Stops accepting calls, lets in-flight calls finish for up to
  // shutdown_grace, cancels the rest, and removes every staging file.
  // Published matrices stay. Idempotent.
  void Shutdown();

 private:
  MatcacheServer(ServerOptions options, std::unique_ptr<Store> store);
  absl::Status StartGrpc();
  // Registers the *.npy files of options_.preload_dir as sources.
  absl::Status Preload();
  // With a persist_dir: persists every publication in the background and
  // adopts what an earlier run persisted.
  void StartPersisting();
  // Aborts expired leases and deletes expired matrices, periodically.
  void SweepLeases();

  const ServerOptions options_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<MatrixCacheService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::string> addresses_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread sweeper_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_SERVER_H_
