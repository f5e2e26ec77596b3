#include "server/service/stream_watchdog.h"

#include <vector>

#include "server/core/logging.h"

namespace matcache {
namespace {

// Set while this thread cancels calls holding the watchdog's lock: gRPC may
// finish a cancelled call (and so unwatch it) inline, on this thread.
thread_local bool cancelling_on_this_thread = false;

}  // namespace

int StreamWatchdog::CancelIdle(absl::Time now) {
  absl::MutexLock lock(&mu_);
  std::vector<grpc::CallbackServerContext*> idle;
  for (const auto& [context, last] : last_progress_) {
    if (now - last > idle_timeout_) idle.push_back(context);
  }
  int cancelled = 0;
  cancelling_on_this_thread = true;
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
  cancelling_on_this_thread = false;
  return cancelled;
}

int StreamWatchdog::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(last_progress_.size());
}

void StreamWatchdog::Watch(grpc::CallbackServerContext* context,
                           absl::Time now) {
  absl::MutexLock lock(&mu_);
  last_progress_[context] = now;
}

void StreamWatchdog::Progress(grpc::CallbackServerContext* context,
                              absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = last_progress_.find(context);
  if (it != last_progress_.end() && it->second != absl::InfiniteFuture()) {
    it->second = now;
  }
}

void StreamWatchdog::Unwatch(grpc::CallbackServerContext* context) {
  if (cancelling_on_this_thread) {
    mu_.AssertHeld();  // inside CancelIdle, on this thread
    last_progress_.erase(context);
    return;
  }
  absl::MutexLock lock(&mu_);
  last_progress_.erase(context);
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
