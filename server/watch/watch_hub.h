// WatchHub: the store's change listener that feeds every watcher (a gRPC
// Watch stream, an HTTP event stream). Each change is turned into one
// WatchEvent, shared by the queues of the watchers whose prefix it matches,
// under the hub's mutex: a change costs its put one pointer per watcher and
// never waits for one. Each queue holds at most `queue_events` events; a
// watcher whose queue is full when a change comes is dropped: its queue is
// emptied and its Next says ABORTED from then on (it lost events and
// should list again).
//
// Order: a watcher gets changes in commit order, across names, each after
// it is visible to Store::Info. Snapshot: with `initial`, Watch registers
// the watcher first, then takes Store::Snapshot; the watcher yields a kPut
// per matrix of the snapshot, then kSnapshotComplete, then exactly the
// changes after the snapshot (sequence greater than the snapshot's): none
// lost, none twice, none that the snapshot reflects already.
//
// Consumers are woken, never polled: after Next said there is nothing yet,
// the watcher's wake function is called (on the hub's own thread, never
// the put's) once there is: an event, or the watcher's end.
//
// Thread-safe. `store` must outlive the hub; the hub must outlive the
// store's listeners list (add it with Store::AddListener) and its watchers.
#ifndef MATCACHE_SERVER_WATCH_WATCH_HUB_H_
#define MATCACHE_SERVER_WATCH_WATCH_HUB_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/core/cache/catalogue.h"
#include "server/core/cache/store.h"
#include "server/watch/watch_event.h"

namespace matcache {

class WatchHub;

// One watcher, from WatchHub::Watch until it is destroyed (which stops it:
// once the destructor returns, its wake function is not running and never
// runs again). Next may be called from any thread, one at a time.
class Watcher {
 public:
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // The next event, or nullptr if there is none yet (the wake function is
  // called once there is). ABORTED once the watcher was dropped for falling
  // behind; UNAVAILABLE once the hub closed.
  absl::StatusOr<std::shared_ptr<const WatchEvent>> Next();

 private:
  friend class WatchHub;
  enum class State { kOpen, kDropped, kClosed };
  struct Queue;
  Watcher(WatchHub* hub, std::shared_ptr<Queue> queue)
      : hub_(hub), queue_(std::move(queue)) {}

  WatchHub* const hub_;
  const std::shared_ptr<Queue> queue_;
};

// Watchers now, and dropped since the hub was made.
struct WatchCounts {
  int64_t watchers = 0;
  int64_t dropped = 0;
};

class WatchHub : public CatalogueListener {
 public:
  static constexpr size_t kDefaultQueueEvents = 1024;

  explicit WatchHub(const Store* store,
                    size_t queue_events = kDefaultQueueEvents);
  // Joins the hub's thread. Every watcher must be destroyed first.
  ~WatchHub() override;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void OnChange(const CatalogueChange& change) override;

  // Starts a watcher of the names that start with `prefix`, with the
  // initial snapshot if `initial` (see above). `wake` must not block; it may
  // call Next. UNAVAILABLE once the hub is closed.
  absl::StatusOr<std::unique_ptr<Watcher>> Watch(std::string prefix,
                                                 bool initial,
                                                 absl::AnyInvocable<void()> wake);

  // Ends every watcher (their Next says UNAVAILABLE) and refuses new ones,
  // so that a server shutting down need not wait for its watch streams.
  void Close();

  WatchCounts counts() const;

 private:
  friend class Watcher;
  using Queue = Watcher::Queue;
  // Stops watching for `queue` and waits out its wake function.
  void Remove(const std::shared_ptr<Queue>& queue);
  // Takes queues_[index] out (the last one takes its place), ends it with
  // `ending` and has its consumer woken.
  void EndLocked(size_t index, Watcher::State ending)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWakeWork() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The hub's thread: calls the wake functions of to_wake_, in order.
  void WakeConsumers();

  const Store* const store_;
  const size_t queue_events_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<Queue>> queues_ ABSL_GUARDED_BY(mu_);
  // Consumers to wake, in order.
  std::vector<std::shared_ptr<Queue>> to_wake_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread waker_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_WATCH_WATCH_HUB_H_
