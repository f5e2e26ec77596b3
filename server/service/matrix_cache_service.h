// MatrixCacheService: the matcache.v1.MatrixCache service on gRPC's callback
// API, a thin layer over Store. Work that touches files (creating,
// preallocating, hashing, unlinking) runs on a WorkerPool so that reactions
// never block; lookups answer inline.
//
// Thread-safe. `store`, `pool` and `hub` must outlive the service, and the
// gRPC server must be shut down before any of them is destroyed.
#ifndef MATCACHE_SERVER_SERVICE_MATRIX_CACHE_SERVICE_H_
#define MATCACHE_SERVER_SERVICE_MATRIX_CACHE_SERVICE_H_

#include <cstdint>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "matcache/v1/matcache.grpc.pb.h"
#include "server/core/cache/store.h"
#include "server/access/access_policy.h"
#include "server/access/shared_access_policy.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"
#include "server/watch/watch_hub.h"

namespace matcache {

struct ServiceOptions {
  // How long a Create's staging segment waits for Commit.
  absl::Duration lease = absl::Seconds(60);
  // Largest List page, also the default page size.
  int max_list_page = 1000;
  // Data bytes per Read message unless the request asks for fewer.
  int64_t read_chunk_bytes = int64_t{1} << 20;
  // Threads one Preview batch is spread over.
  int preview_threads = 2;
  // Canonical directory Load sources must be in; empty disables Load.
  std::string data_dir;
  // The fd socket (see server/core/storage/fd_handoff.h) a Create's caller gets its
  // staging file from, named in CreateResponse.fd_socket to callers that
  // came through a unix socket; empty if none.
  std::string fd_socket;
};

// Read and Preview take and produce raw frames (see read_frames.h).
class MatrixCacheService final
    : public v1::MatrixCache::WithRawCallbackMethod_Read<
          v1::MatrixCache::WithRawCallbackMethod_Preview<
              v1::MatrixCache::CallbackService>> {
 public:
  // `watchdog` (may be null, and must outlive the service) cancels streams
  // that stall; `access` (must outlive the service) says which tokens
  // callers must present; `hub` serves Watch.
  MatrixCacheService(Store* store, WorkerPool* pool, StreamWatchdog* watchdog,
                     const SharedAccessPolicy* access, WatchHub* hub,
                     ServiceOptions options);

  grpc::ServerUnaryReactor* Create(grpc::CallbackServerContext* context,
                                   const v1::CreateRequest* request,
                                   v1::CreateResponse* response) override;
  grpc::ServerUnaryReactor* Commit(grpc::CallbackServerContext* context,
                                   const v1::CommitRequest* request,
                                   v1::MatrixInfo* response) override;
  grpc::ServerUnaryReactor* Abort(grpc::CallbackServerContext* context,
                                  const v1::AbortRequest* request,
                                  v1::AbortResponse* response) override;
  grpc::ServerReadReactor<v1::PutRequest>* Put(
      grpc::CallbackServerContext* context, v1::MatrixInfo* response) override;
  grpc::ServerUnaryReactor* Info(grpc::CallbackServerContext* context,
                                 const v1::InfoRequest* request,
                                 v1::MatrixInfo* response) override;
  grpc::ServerUnaryReactor* List(grpc::CallbackServerContext* context,
                                 const v1::ListRequest* request,
                                 v1::ListResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* Load(grpc::CallbackServerContext* context,
                                 const v1::LoadRequest* request,
                                 v1::MatrixInfo* response) override;
  grpc::ServerUnaryReactor* Pin(grpc::CallbackServerContext* context,
                                const v1::PinRequest* request,
                                v1::MatrixInfo* response) override;
  grpc::ServerUnaryReactor* Unpin(grpc::CallbackServerContext* context,
                                  const v1::PinRequest* request,
                                  v1::MatrixInfo* response) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Read(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Preview(
      grpc::CallbackServerContext* context,
      const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* Stats(grpc::CallbackServerContext* context,
                                  const v1::StatsRequest* request,
                                  v1::StatsResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(
      grpc::CallbackServerContext* context,
      const v1::WatchRequest* request) override;

 private:
  // Finishes a unary call with `status` right away.
  static grpc::ServerUnaryReactor* Answer(grpc::CallbackServerContext* context,
                                          const char* rpc,
                                          const absl::Status& status);
  // Checks that `context` may make the call `rpc` needing `access`.
  absl::Status Authorize(const grpc::CallbackServerContext& context,
                         Access access, const char* rpc) const;
  // A unary call finished with Authorize's error; nullptr if it may run.
  grpc::ServerUnaryReactor* Refused(grpc::CallbackServerContext* context,
                                    Access access, const char* rpc) const;
  // Runs `work` on the pool and finishes the call with its status;
  // RESOURCE_EXHAUSTED if the pool's queue is full.
  grpc::ServerUnaryReactor* Offload(grpc::CallbackServerContext* context,
                                    const char* rpc,
                                    absl::AnyInvocable<absl::Status() &&> work);
  // Pin (`pinned`) or Unpin.
  grpc::ServerUnaryReactor* SetPinned(grpc::CallbackServerContext* context,
                                      const char* rpc,
                                      const v1::PinRequest* request,
                                      v1::MatrixInfo* response, bool pinned);
  absl::Status ListPage(const v1::ListRequest& request,
                        v1::ListResponse* response) const;

  Store* const store_;
  WorkerPool* const pool_;
  StreamWatchdog* const watchdog_;
  const SharedAccessPolicy* const access_;
  WatchHub* const hub_;
  const ServiceOptions options_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_MATRIX_CACHE_SERVICE_H_
