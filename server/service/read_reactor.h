// ReadReactor: one server-streaming Read call: numpy basic indexing of one
// matrix, optionally cast to another dtype, streamed in C order in bounded
// chunks. Holds the segment of one generation for the whole stream, so a
// concurrent replace or delete never mixes versions, and keeps exactly one
// write in flight, so a client that stops reading holds the server to one
// chunk of memory. Works on raw frames (read_frames.h): a contiguous result
// is sent straight from the segment's mapping, anything else is gathered
// (and cast) once into the outgoing buffer.
#ifndef MATCACHE_SERVER_SERVICE_READ_REACTOR_H_
#define MATCACHE_SERVER_SERVICE_READ_REACTOR_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "matcache/v1/matcache.pb.h"
#include "server/core/array/selection_stream.h"
#include "server/core/cache/store.h"
#include "matcache/dtype.h"
#include "server/core/storage/segment.h"
#include "server/service/stream_watchdog.h"
#include "server/service/worker_pool.h"

namespace matcache {

class ReadReactor final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  // Parses and validates the ReadRequest in `request` and starts streaming
  // (or finishes with an error); a matrix that must first be read from its
  // source is loaded on `pool`. Deletes itself when the call is done.
  // `watchdog` (may be null) cancels the call if the client stops reading.
  ReadReactor(Store& store, WorkerPool* pool, StreamWatchdog* watchdog,
              grpc::CallbackServerContext* context,
              const grpc::ByteBuffer& request, int64_t default_chunk_bytes);

  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  // Acquires the segment and prepares the reader; the first response (the
  // header) is left in response_.
  absl::Status Start(const Store& store, const v1::ReadRequest& request,
                     int64_t default_chunk_bytes);
  // Starts writing, or finishes with `status` if it is an error.
  void Begin(const absl::Status& status);
  void WriteNextChunk();

  std::shared_ptr<const Segment> segment_;
  std::shared_ptr<const SegmentData> data_;  // what stream_ reads
  std::optional<SelectionStream> stream_;
  int64_t chunk_bytes_ = 0;  // whole output elements per message
  grpc::ByteBuffer frame_;
  WatchedCall watched_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_READ_REACTOR_H_
