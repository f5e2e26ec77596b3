// StreamWatchdog: cancels streaming calls that make no progress for too
// long, so a client that stops reading a Read stream or stops sending a Put
// stream cannot hold a mapping, a staging segment or a buffer forever.
//
// A reactor owns a WatchedCall for its call and reports each completed read
// or write; CancelIdle, called periodically, cancels the calls whose last
// progress is older than the timeout. Thread-safe.
#ifndef MATCACHE_SERVER_SERVICE_STREAM_WATCHDOG_H_
#define MATCACHE_SERVER_SERVICE_STREAM_WATCHDOG_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace matcache {

class StreamWatchdog {
 public:
  explicit StreamWatchdog(absl::Duration idle_timeout)
      : idle_timeout_(idle_timeout) {}

  StreamWatchdog(const StreamWatchdog&) = delete;
  StreamWatchdog& operator=(const StreamWatchdog&) = delete;

  // Cancels every watched call that made no progress since `now` minus the
  // timeout; returns how many.
  int CancelIdle(absl::Time now);

 private:
  friend class WatchedCall;

  void Watch(grpc::CallbackServerContext* context, absl::Time now);
  void Progress(grpc::CallbackServerContext* context, absl::Time now);
  void Unwatch(grpc::CallbackServerContext* context);
  // Locks mu_ unless this thread holds it already, inside CancelIdle: gRPC
  // may run a cancelled call's reactions (which watch, report progress or
  // unwatch) inline, on the cancelling thread. To their callers they take
  // and release mu_; their own bodies, which do so only conditionally, are
  // not analysed.
  void LockUnlessCancelling() ABSL_EXCLUSIVE_LOCK_FUNCTION(mu_)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;
  void UnlockUnlessCancelling() ABSL_UNLOCK_FUNCTION(mu_)
      ABSL_NO_THREAD_SAFETY_ANALYSIS;

  const absl::Duration idle_timeout_;
  std::atomic<std::thread::id> cancelling_thread_{};
  mutable absl::Mutex mu_;
  absl::flat_hash_map<grpc::CallbackServerContext*, absl::Time> last_progress_
      ABSL_GUARDED_BY(mu_);
};

// Watches one call from construction to destruction. Destroy it before the
// call's context goes (a member of the reactor, destroyed in OnDone).
// `watchdog` may be null: then nothing is watched.
class WatchedCall {
 public:
  WatchedCall(StreamWatchdog* watchdog, grpc::CallbackServerContext* context);
  ~WatchedCall();
  WatchedCall(const WatchedCall&) = delete;
  WatchedCall& operator=(const WatchedCall&) = delete;

  // The call just completed a read or a write, or the server's work for it.
  void Progress();

 private:
  StreamWatchdog* const watchdog_;
  grpc::CallbackServerContext* const context_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_STREAM_WATCHDOG_H_
