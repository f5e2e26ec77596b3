// PutReactor: one client-streaming Put call. The first message is a
// PutHeader; a staging segment is created for it (on the worker pool), then
// each data chunk is copied straight into the segment's mapping. When the
// client half-closes with exactly the expected bytes, the segment is
// committed; a cancelled, short, long or malformed stream aborts it, so
// nothing is published.
#ifndef MATCACHE_SERVER_SERVICE_PUT_REACTOR_H_
#define MATCACHE_SERVER_SERVICE_PUT_REACTOR_H_

#include <cstdint>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "matcache/v1/matcache.pb.h"
#include "server/core/cache/store.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"

namespace matcache {

class PutReactor final : public grpc::ServerReadReactor<v1::PutRequest> {
 public:
  // Starts reading. Deletes itself when the call is done.
  // The staging segment's lease lasts `lease` after the latest message: a
  // stream that stalls for longer is aborted. `watchdog` (may be null)
  // cancels the call if the client stops sending.
  PutReactor(Store* store, WorkerPool* pool, absl::Duration lease,
             StreamWatchdog* watchdog, grpc::CallbackServerContext* context,
             v1::MatrixInfo* response);

  void OnReadDone(bool ok) override;
  void OnDone() override;

 private:
  void OnHeader();
  void OnData();
  void OnEndOfStream();
  // Runs `task` on the pool, or fails the call if the pool is full.
  void Schedule(absl::AnyInvocable<void() &&> task);
  // Aborts the staging write, if any, and finishes with `status`.
  void Fail(const absl::Status& status);

  Store* const store_;
  WorkerPool* const pool_;
  const absl::Duration lease_;
  grpc::CallbackServerContext* const context_;
  v1::MatrixInfo* const response_;
  WatchedCall watched_;
  v1::PutRequest request_;
  std::optional<StagingWrite> write_;
  int64_t received_ = 0;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_PUT_REACTOR_H_
