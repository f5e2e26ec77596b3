// WorkerPool: a fixed set of threads that run blocking work (creating and
// preallocating segments, hashing, unlinking) so that gRPC reactions never
// block. The queue is bounded: when it is full, new work is refused rather
// than buffered without limit.
//
// Thread-safe. The destructor runs every task already queued, then joins.
#ifndef MATCACHE_SERVER_SERVICE_WORKER_POOL_H_
#define MATCACHE_SERVER_SERVICE_WORKER_POOL_H_

#include <cstddef>
#include <deque>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace matcache {

class WorkerPool {
 public:
  WorkerPool(int threads, size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `task`; returns false (and drops it) if max_queued tasks wait.
  bool TrySchedule(absl::AnyInvocable<void() &&> task);

 private:
  void Run();
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

// What to answer a request whose work TrySchedule refused.
absl::Status BusyError();

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_WORKER_POOL_H_
