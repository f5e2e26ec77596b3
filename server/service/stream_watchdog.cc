#include "server/service/stream_watchdog.h"

#include <vector>

#include "server/core/base/logging.h"

namespace matcache {

int StreamWatchdog::CancelIdle(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<grpc::CallbackServerContext*> idle;
  for (const auto& [context, last] : last_progress_) {
    if (now - last > idle_timeout_) idle.push_back(context);
  }
  int cancelled = 0;
  cancelling_thread_.store(std::this_thread::get_id());
  for (grpc::CallbackServerContext* context : idle) {
    // Unwatched by an earlier cancellation, and perhaps gone.
    if (!last_progress_.contains(context)) continue;
    // Once cancelled, the call finishes and unwatches itself; until then it
    // must not be cancelled again.
    last_progress_[context] = absl::InfiniteFuture();
    LogWarning("cancelling a stream from %s idle for over %s", context->peer(),
               absl::FormatDuration(idle_timeout_));
    context->TryCancel();
    ++cancelled;
  }
  cancelling_thread_.store(std::thread::id());
  return cancelled;
}

void StreamWatchdog::LockUnlessCancelling() {
  if (cancelling_thread_.load() == std::this_thread::get_id()) {
    mu_.AssertHeld();
    return;
  }
  mu_.Lock();
}

void StreamWatchdog::UnlockUnlessCancelling() {
  if (cancelling_thread_.load() != std::this_thread::get_id()) mu_.Unlock();
}

void StreamWatchdog::Watch(grpc::CallbackServerContext* context,
                           absl::Time now) {
  LockUnlessCancelling();
  last_progress_[context] = now;
  UnlockUnlessCancelling();
}

void StreamWatchdog::Progress(grpc::CallbackServerContext* context,
                              absl::Time now) {
  LockUnlessCancelling();
  auto it = last_progress_.find(context);
  if (it != last_progress_.end() && it->second != absl::InfiniteFuture()) {
    it->second = now;
  }
  UnlockUnlessCancelling();
}

void StreamWatchdog::Unwatch(grpc::CallbackServerContext* context) {
  LockUnlessCancelling();
  last_progress_.erase(context);
  UnlockUnlessCancelling();
}

WatchedCall::WatchedCall(StreamWatchdog* watchdog,
                         grpc::CallbackServerContext* context)
    : watchdog_(watchdog), context_(context) {
  if (watchdog_ != nullptr) watchdog_->Watch(context_, absl::Now());
}

WatchedCall::~WatchedCall() {
  if (watchdog_ != nullptr) watchdog_->Unwatch(context_);
}

void WatchedCall::Progress() {
  if (watchdog_ != nullptr) watchdog_->Progress(context_, absl::Now());
}

}  // namespace matcache
