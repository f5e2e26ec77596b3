#include "server/service/preview_reactor.h"

#include <algorithm>

#include "protos/convert/proto_convert.h"
#include "server/core/base/status_macros.h"
#include "server/service/grpc_status.h"
#include "server/service/read_frames.h"
#include "server/service/when_loaded.h"

namespace matcache {
PreviewReactor::PreviewReactor(Store& store, WorkerPool* pool,
                               StreamWatchdog* watchdog,
                               grpc::CallbackServerContext* context,
                               const grpc::ByteBuffer& request,
                               int64_t default_chunk_bytes, int threads)
    : pool_(pool), threads_(threads), watched_(watchdog, context) {
  StartStream<v1::PreviewRequest>(
      store, pool, request,
      [this, &store, default_chunk_bytes](const v1::PreviewRequest& parsed) {
        return Start(store, parsed, default_chunk_bytes);
      },
      [this](const absl::Status& started) { Begin(started); });
}

void PreviewReactor::Begin(const absl::Status& status) {
  watched_.Progress();  // loading the source was the server's time
  if (!status.ok()) {
    Finish(ToGrpcStatus("Preview", status));
    return;
  }
  StartWrite(&frame_);
}

absl::Status PreviewReactor::Start(const Store& store,
                                   const v1::PreviewRequest& request,
                                   int64_t default_chunk_bytes) {
  ASSIGN_OR_RETURN(chunk_bytes_,
                   ChunkBytes(request.chunk_bytes(), default_chunk_bytes));
  ASSIGN_OR_RETURN(PreviewMethod method,
                   PreviewMethodFromProto(request.method()));
  ASSIGN_OR_RETURN(segment_, store.Acquire(request.name(), request.generation()));
  const SegmentHeader& header = segment_->header();
  ASSIGN_OR_RETURN(data_, segment_->MapData());
  ASSIGN_OR_RETURN(
      Previewer previewer,
      Previewer::Create(data_->data(), header.shape, header.dtype,
                        ShapeFromProto(request.shape()), method));
  previewer_.emplace(std::move(previewer));
  v1::ReadHeader out;
  const std::vector<int64_t>& shape = previewer_->output_shape();
  out.mutable_shape()->Assign(shape.begin(), shape.end());
  out.set_dtype(ToProto(previewer_->output_dtype()));
  out.set_generation(header.generation);
  out.set_nbytes(previewer_->rows() * previewer_->row_bytes());
  frame_ = HeaderFrame(out);
  return absl::OkStatus();
}

void PreviewReactor::OnWriteDone(bool ok) {
  if (ok) watched_.Progress();
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                        "Preview stream broken by the client"));
    return;
  }
  SendNext();
}

void PreviewReactor::SendNext() {
  if (batch_ != nullptr && batch_sent_ < batch_->size()) {
    const size_t size = std::min(batch_->size() - batch_sent_,
                                 static_cast<size_t>(chunk_bytes_));
    frame_ = DataFrame(BorrowedSlice(batch_->data() + batch_sent_, size, batch_));
    batch_sent_ += size;
    StartWrite(&frame_);
    return;
  }
  if (next_row_ == previewer_->rows()) {
    Finish(grpc::Status::OK);
    return;
  }
  if (!pool_->TrySchedule([this] { ComputeBatch(); })) {
    Finish(ToGrpcStatus("Preview", BusyError()));
  }
}

void PreviewReactor::ComputeBatch() {
  if (cancelled_.load()) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "Preview cancelled"));
    return;
  }
  const int64_t rows = std::min(
      previewer_->rows() - next_row_,
      std::max<int64_t>(1, chunk_bytes_ / std::max<int64_t>(1, previewer_->row_bytes())));
  // A new buffer each time: slices of the last one may still be in flight.
  batch_ = std::make_shared<std::string>(
      static_cast<size_t>(rows * previewer_->row_bytes()), '\0');
  previewer_->ComputeRows(next_row_, next_row_ + rows, batch_->data(), threads_);
  next_row_ += rows;
  batch_sent_ = 0;
  watched_.Progress();
  SendNext();
}

void PreviewReactor::OnCancel() { cancelled_.store(true); }

void PreviewReactor::OnDone() { delete this; }

}  // namespace matcache
