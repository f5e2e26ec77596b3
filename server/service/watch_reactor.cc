#include "server/service/watch_reactor.h"

#include <string>
#include <utility>

#include "protos/convert/proto_convert.h"
#include "server/service/grpc_status.h"

namespace matcache {

WatchReactor::WatchReactor(WatchHub* hub, const v1::WatchRequest& request) {
  {
    // Held until watcher_ is set: the hub may wake us before Watch returns.
    absl::MutexLock lock(&mu_);
    absl::StatusOr<std::unique_ptr<Watcher>> watcher =
        hub->Watch(request.prefix(), request.initial(), [this] { Pump(); });
    if (watcher.ok()) {
      watcher_ = *std::move(watcher);
    } else {
      ended_ = watcher.status();
    }
  }
  Pump();
}

void WatchReactor::Pump() {
  absl::Status finish;  // non-OK: finish with it; OK: write response_
  {
    absl::MutexLock lock(&mu_);
    if (writing_ || finished_) return;
    if (ended_.ok()) {
      absl::StatusOr<std::shared_ptr<const WatchEvent>> next = watcher_->Next();
      if (next.ok() && *next == nullptr) return;  // woken when there is one
      if (next.ok()) {
        response_.Clear();
        ToProto(**next, &response_);
        writing_ = true;
      } else {
        ended_ = next.status();
      }
    }
    finish = ended_;
    finished_ = !writing_;
  }
  // Neither under mu_: gRPC may run our reactions on this thread.
  if (absl::IsCancelled(finish)) {
    // The usual end of a watch: not worth a log line.
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, std::string(finish.message())));
  } else if (!finish.ok()) {
    Finish(ToGrpcStatus("Watch", finish));
  } else {
    StartWrite(&response_);
  }
}

void WatchReactor::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok && ended_.ok()) {
      ended_ = absl::CancelledError("Watch stream broken by the client");
    }
  }
  Pump();
}

void WatchReactor::OnCancel() {
  {
    absl::MutexLock lock(&mu_);
    if (ended_.ok()) ended_ = absl::CancelledError("Watch cancelled by the client");
  }
  Pump();
}

void WatchReactor::OnDone() {
  std::unique_ptr<Watcher> watcher;
  {
    absl::MutexLock lock(&mu_);
    watcher = std::move(watcher_);
  }
  // Waits out a wake in progress (which finds the call finished) before
  // the reactor goes.
  watcher.reset();
  delete this;
}

}  // namespace matcache
