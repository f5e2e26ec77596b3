#include "server/service/read_reactor.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/service/grpc_status.h"
#include "server/service/matrix_cache_service.h"
#include "protos/convert/proto_convert.h"

namespace matcache {

ReadReactor::ReadReactor(const Store& store, const v1::ReadRequest& request,
                         int64_t default_chunk_bytes) {
  absl::StatusOr<std::shared_ptr<const Segment>> segment = Open(store, request);
  if (!segment.ok()) {
    Finish(ToGrpcStatus("Read", segment.status()));
    return;
  }
  segment_ = *std::move(segment);
  chunk_bytes_ = request.chunk_bytes() > 0
                     ? std::min(request.chunk_bytes(), kMaxReadChunkBytes)
                     : default_chunk_bytes;
  const SegmentHeader& header = segment_->header();
  v1::ReadHeader* out = response_.mutable_header();
  out->mutable_shape()->Assign(header.shape.begin(), header.shape.end());
  out->set_dtype(ToProto(header.dtype));
  out->set_generation(header.generation);
  out->set_nbytes(static_cast<int64_t>(header.data_length));
  StartWrite(&response_);
}

absl::StatusOr<std::shared_ptr<const Segment>> ReadReactor::Open(
    const Store& store, const v1::ReadRequest& request) const {
  if (request.chunk_bytes() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_bytes is negative (", request.chunk_bytes(), ")"));
  }
  if (request.index_size() > 0 || request.dtype() != v1::DTYPE_UNSPECIFIED) {
    return absl::UnimplementedError(
        "Read with indices or a dtype cast is not served by this server "
        "version; read the whole matrix");
  }
  absl::StatusOr<std::shared_ptr<const Segment>> segment =
      store.Acquire(request.name());
  if (!segment.ok()) return segment.status();
  const uint64_t current = (*segment)->header().generation;
  if (request.generation() != 0 && request.generation() != current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "generation ", request.generation(), " of \"", request.name(),
        "\" is gone; the current one is ", current));
  }
  return segment;
}

void ReadReactor::OnWriteDone(bool ok) {
  if (!ok) {
    Finish(grpc::Status(grpc::StatusCode::CANCELLED,
                        "Read stream broken by the client"));
    return;
  }
  WriteNextChunk();
}

void ReadReactor::WriteNextChunk() {
  const int64_t total = static_cast<int64_t>(segment_->header().data_length);
  if (sent_ == total) {
    Finish(grpc::Status::OK);
    return;
  }
  const int64_t size = std::min(chunk_bytes_, total - sent_);
  response_.Clear();
  response_.set_data(segment_->data() + sent_, static_cast<size_t>(size));
  sent_ += size;
  StartWrite(&response_);
}

void ReadReactor::OnDone() { delete this; }

}  // namespace matcache
