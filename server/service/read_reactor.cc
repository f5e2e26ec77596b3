#include "server/service/read_reactor.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "protos/convert/proto_convert.h"
#include "server/core/array/slice.h"
#include "server/core/base/status_macros.h"
#include "server/service/grpc_status.h"
#include "server/service/read_frames.h"
#include "server/service/when_loaded.h"

namespace matcache {

ReadReactor::ReadReactor(Store& store, WorkerPool* pool,
                         StreamWatchdog* watchdog,
                         grpc::CallbackServerContext* context,
                         const grpc::ByteBuffer& request,
                         int64_t default_chunk_bytes)
    : watched_(watchdog, context) {
  StartStream<v1::ReadRequest>(
      store, pool, request,
      [this, &store, default_chunk_bytes](const v1::ReadRequest& parsed) {
        return Start(store, parsed, default_chunk_bytes);
      },
      [this](const absl::Status& started) { Begin(started); });
}

void ReadReactor::Begin(const absl::Status& status) {
  watched_.Progress();  // loading the source was the server's time
  if (!status.ok()) {
    Finish(ToGrpcStatus("Read", status));
    return;
  }
  StartWrite(&frame_);
}

absl::Status ReadReactor::Start(const Store& store,
                                const v1::ReadRequest& request,
                                int64_t default_chunk_bytes) {
  ASSIGN_OR_RETURN(const int64_t chunk_bytes,
                   ChunkBytes(request.chunk_bytes(), default_chunk_bytes));
  ASSIGN_OR_RETURN(std::vector<Index> indices, IndicesFromProto(request.index()));
  ASSIGN_OR_RETURN(segment_, store.Acquire(request.name(), request.generation()));
  const SegmentHeader& header = segment_->header();
  DType output_dtype = header.dtype;
  if (request.dtype() != v1::DTYPE_UNSPECIFIED) {
    ASSIGN_OR_RETURN(output_dtype, FromProto(request.dtype()));
  }
  ASSIGN_OR_RETURN(std::vector<DimSelection> selection,
                   ResolveIndices(header.shape, indices));
  ASSIGN_OR_RETURN(data_, segment_->MapData());
  stream_.emplace(data_->data(), header.shape, header.dtype, selection,
                  output_dtype);
  const int64_t output_item = GetDTypeInfo(output_dtype).item_size;
  chunk_bytes_ = std::max<int64_t>(1, chunk_bytes / output_item) * output_item;
  const std::vector<int64_t> shape = SelectedShape(selection);
  v1::ReadHeader out;
  out.mutable_shape()->Assign(shape.begin(), shape.end());
  out.set_dtype(ToProto(output_dtype));
  out.set_generation(header.generation);
  out.set_nbytes(stream_->total_bytes());
  frame_ = HeaderFrame(out);
  return absl::OkStatus();
}

void ReadReactor::OnWriteDone(bool ok) {
  if (ok) watched_.Progress();
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                        "Read stream broken by the client"));
    return;
  }
  WriteNextChunk();
}

void ReadReactor::WriteNextChunk() {
  if (stream_->remaining_bytes() == 0) {
    Finish(grpc::Status::OK);
    return;
  }
  const size_t size =
      static_cast<size_t>(std::min(chunk_bytes_, stream_->remaining_bytes()));
  if (stream_->borrowable()) {
    // Straight from the mapping: the slice keeps the segment alive.
    frame_ = DataFrame(BorrowedSlice(stream_->Take(size), size, segment_));
  } else {
    grpc::Slice payload(size);
    stream_->Read(reinterpret_cast<char*>(const_cast<uint8_t*>(payload.begin())),
                  size);
    frame_ = DataFrame(std::move(payload));
  }
  StartWrite(&frame_);
}

void ReadReactor::OnDone() { delete this; }

}  // namespace matcache
