// WatchReactor: one server-streaming Watch call, draining one Watcher of the
// WatchHub: the snapshot first if asked, then each change, with exactly one
// write in flight. It never polls: the hub wakes it when its watcher has
// something new. A watcher the hub drops for falling behind ends the call
// with ABORTED, once the writes the client has not read yet are taken; a
// hub that closes ends it with UNAVAILABLE. Not watched by the
// StreamWatchdog: a watch is idle by nature, and a client that stops
// reading is dropped by its queue's bound instead.
#ifndef MATCACHE_SERVER_SERVICE_WATCH_REACTOR_H_
#define MATCACHE_SERVER_SERVICE_WATCH_REACTOR_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "matcache/v1/matcache.pb.h"
#include "server/watch/watch_hub.h"

namespace matcache {

class WatchReactor final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  // Starts watching `hub` as `request` asks. Deletes itself when the call
  // is done.
  WatchReactor(WatchHub* hub, const v1::WatchRequest& request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Writes the watcher's next event, or finishes the call, unless a write
  // is in flight or there is nothing yet. Called from any thread.
  void Pump() ABSL_LOCKS_EXCLUDED(mu_);

  absl::Mutex mu_;
  std::unique_ptr<Watcher> watcher_ ABSL_GUARDED_BY(mu_);
  absl::Status ended_ ABSL_GUARDED_BY(mu_);  // why the call must finish
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  v1::WatchEvent response_;  // written only while no write is in flight
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_WATCH_REACTOR_H_
