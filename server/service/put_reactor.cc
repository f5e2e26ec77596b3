#include "server/service/put_reactor.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "protos/convert/proto_convert.h"
#include "server/core/base/crash_point.h"
#include "server/core/base/logging.h"
#include "server/service/grpc_status.h"

namespace matcache {

PutReactor::PutReactor(Store* store, WorkerPool* pool, absl::Duration lease,
                       StreamWatchdog* watchdog,
                       grpc::CallbackServerContext* context,
                       v1::MatrixInfo* response)
    : store_(store),
      pool_(pool),
      lease_(lease),
      context_(context),
      response_(response),
      watched_(watchdog, context) {
  StartRead(&request_);
}

void PutReactor::OnReadDone(bool ok) {
  if (ok) watched_.Progress();
  if (!ok) {
    OnEndOfStream();
  } else if (!write_.has_value()) {
    OnHeader();
  } else {
    OnData();
  }
}

void PutReactor::OnHeader() {
  if (!request_.has_header()) {
    Fail(absl::InvalidArgumentError(
        "the first Put message must be a header (name, shape, dtype)"));
    return;
  }
  Schedule([this, header = std::move(*request_.mutable_header())]() {
    const absl::Time now = absl::Now();
    absl::StatusOr<WriteRequest> asked = WriteRequestFromProto(header, now);
    absl::StatusOr<StagingWrite> write =
        asked.ok() ? store_->BeginWrite(asked->name, asked->shape, asked->dtype,
                                        Segment::Prefault::kYes, now + lease_,
                                        asked->retention, asked->original_dtype)
                   : absl::StatusOr<StagingWrite>(asked.status());
    if (!write.ok()) {
      Fail(write.status());
      return;
    }
    write_ = *std::move(write);
    watched_.Progress();  // preparing the segment was the server's time
    StartRead(&request_);
  });
}

void PutReactor::OnData() {
  if (!request_.has_data()) {
    Fail(absl::InvalidArgumentError(
        "Put sent a second header; only data may follow the first"));
    return;
  }
  const std::string& data = request_.data();
  const int64_t expected =
      static_cast<int64_t>(write_->segment->header().data_length);
  if (static_cast<int64_t>(data.size()) > expected - received_) {
    Fail(absl::InvalidArgumentError(absl::StrCat(
        "Put sent more than the ", expected, " bytes its shape and dtype ",
        "need; nothing published")));
    return;
  }
  absl::Status renewed = store_->RenewLease(write_->write_id, absl::Now() + lease_);
  if (!renewed.ok()) {
    Fail(absl::DeadlineExceededError(
        "Put stalled longer than its lease; nothing published"));
    return;
  }
  // Hashed as it is copied: Commit need not read the data again.
  absl::Status appended = write_->segment->AppendData(data);
  if (!appended.ok()) {
    Fail(appended);
    return;
  }
  received_ += static_cast<int64_t>(data.size());
  if (received_ < expected) CrashPoint("mid_put_data");
  StartRead(&request_);
}

void PutReactor::OnEndOfStream() {
  if (context_->IsCancelled()) {
    Fail(absl::CancelledError("Put was cancelled; nothing published"));
    return;
  }
  if (!write_.has_value()) {
    Fail(absl::InvalidArgumentError("Put stream ended before its header"));
    return;
  }
  const int64_t expected =
      static_cast<int64_t>(write_->segment->header().data_length);
  if (received_ != expected) {
    Fail(absl::InvalidArgumentError(absl::StrCat(
        "Put stream ended after ", received_, " of ", expected,
        " bytes; nothing published")));
    return;
  }
  Schedule([this]() {
    std::shared_ptr<const Segment> replaced;
    absl::StatusOr<MatrixInfo> info = store_->Commit(write_->write_id, &replaced);
    if (!info.ok()) {
      Fail(info.status());
      return;
    }
    write_.reset();  // published: nothing left to abort
    ToProto(*info, response_);
    Finish(grpc::Status::OK);
    // `this` may be gone now; freeing the replaced pages is not the
    // caller's wait.
    replaced.reset();
  });
}

void PutReactor::Schedule(absl::AnyInvocable<void() &&> task) {
  if (!pool_->TrySchedule(std::move(task))) {
    Fail(BusyError());
  }
}

void PutReactor::Fail(const absl::Status& status) {
  if (!write_.has_value()) {
    Finish(ToGrpcStatus("Put", status));
    return;
  }
  // Unlinking and unmapping a large segment takes time: off this thread
  // when the pool has room. The caller hears of the failure only once the
  // staging file is gone.
  auto abort_then_finish = [this, write = *std::move(write_), status]() {
    absl::Status aborted = store_->Abort(write.write_id);
    if (!aborted.ok() && !absl::IsNotFound(aborted)) {
      LogWarning("Put: %s", aborted.message());
    }
    Finish(ToGrpcStatus("Put", status));
  };
  write_.reset();
  if (!pool_->TrySchedule(abort_then_finish)) abort_then_finish();
}

void PutReactor::OnDone() {
  // Finish is only called after the staging write was committed or aborted.
  delete this;
}

}  // namespace matcache
