// PreviewReactor: one server-streaming Preview call. Holds the segment of
// one generation for the whole stream. Output rows are computed in batches
// of about one chunk on the worker pool (each batch spread over several
// threads) while at most one write is in flight, so memory stays bounded by
// one batch; a cancelled call stops before its next batch. Batches are sent
// as raw frames (read_frames.h) without copying.
#ifndef MATCACHE_SERVER_SERVICE_PREVIEW_REACTOR_H_
#define MATCACHE_SERVER_SERVICE_PREVIEW_REACTOR_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "matcache/v1/matcache.pb.h"
#include "server/core/array/preview.h"
#include "server/core/cache/store.h"
#include "server/core/storage/segment.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"

namespace matcache {

class PreviewReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // Parses and validates the PreviewRequest in `request` and starts
  // streaming (or finishes with an error). Deletes itself when the call is
  // done. `watchdog` (may be null) cancels the call if the client stops
  // reading.
  PreviewReactor(Store& store, WorkerPool* pool, StreamWatchdog* watchdog,
                 grpc::CallbackServerContext* context,
                 const grpc::ByteBuffer& request, int64_t default_chunk_bytes,
                 int threads);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  absl::Status Start(const Store& store, const v1::PreviewRequest& request,
                     int64_t default_chunk_bytes);
  // Sends the next piece of the computed batch, computes the next batch, or
  // finishes.
  void SendNext();
  // Starts writing, or finishes with `status` if it is an error.
  void Begin(const absl::Status& status);
  void ComputeBatch();

  WorkerPool* const pool_;
  const int threads_;
  std::atomic<bool> cancelled_{false};
  std::shared_ptr<const Segment> segment_;
  std::shared_ptr<const SegmentData> data_;  // what previewer_ reads
  std::optional<Previewer> previewer_;
  int64_t chunk_bytes_ = 0;
  int64_t next_row_ = 0;
  // The computed rows being sent; shared with the slices that carry them.
  std::shared_ptr<std::string> batch_;
  size_t batch_sent_ = 0;
  grpc::ByteBuffer frame_;
  WatchedCall watched_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_PREVIEW_REACTOR_H_
