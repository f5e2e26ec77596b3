// SparePool: the spare file kept ready for the next write (see SpareFile
// and StoreOptions::spare_bytes), and the thread that makes, replaces and
// drops it. As each write begins (Take) the pool is asked for a spare as
// large as that write, up to its limit, made once no write is in flight
// (Options::writes_in_flight); a ready spare is removed once no
// write has begun for `idle`. The spare is counted in the budget while it
// exists or is being made.
//
// Thread safety: the pool's state, and the Budget it charges, are guarded
// by the store's mutex `mu`, given at construction; every method but the
// constructor and destructor must be called with `mu` held (they assert
// it), and may wait on it. The pool's thread takes `mu` itself and releases
// it while it touches a file. `new_path` and `writes_in_flight` are called
// with `mu` held.
#ifndef MATCACHE_SERVER_CORE_CACHE_SPARE_POOL_H_
#define MATCACHE_SERVER_CORE_CACHE_SPARE_POOL_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/core/cache/budget.h"
#include "server/core/storage/spare_file.h"

namespace matcache {

class SparePool {
 public:
  struct Options {
    int64_t max_bytes = 0;  // the largest spare; 0: none, and no thread
    absl::Duration idle = absl::Minutes(1);
    std::string dir;  // where spares are made (for its free space)
    // The path of a new spare file.
    std::function<std::string()> new_path;
    // Whether writes are under way, from the creation of their files until
    // they are committed or aborted: no spare is made meanwhile. Their
    // files need the room (the free space they take is not known until they
    // have taken it), and making a spare, which allocates and zeroes every
    // page, would slow the copy and the hash of the write that just took
    // the previous one.
    std::function<bool()> writes_in_flight;
  };

  // `mu` and `budget` must outlive the pool.
  SparePool(Options options, absl::Mutex* mu, Budget* budget);
  // Stops the thread and removes the spare. `mu` must not be held.
  ~SparePool();

  // Takes the spare, uncounting its bytes, if it suits a write of `bytes`
  // (waiting for it if it is being made); then asks for one that suits the
  // next write like this one. Null if none suits.
  std::unique_ptr<SpareFile> Take(int64_t bytes);
  // Gives back a spare Take returned, counting it again, unless a spare was
  // made meanwhile (then `spare` is removed).
  void GiveBack(std::unique_ptr<SpareFile> spare);
  // Removes the spare, ready or being made, and waits until its file is
  // gone and its bytes are uncounted. With `keep_none`, also forgets the
  // size asked for, so that none is made until the next Take.
  void Drop(bool keep_none);

  // The spare's bytes, ready, being made or being removed.
  int64_t bytes() const;
  // Whether the spare is asked for, being made, replaced or removed.
  bool pending() const;

 private:
  struct Sizes {
    int64_t wanted = 0;    // size to make; 0: none
    int64_t filling = 0;   // size being made
    int64_t removing = 0;  // size being removed
  };
  struct Waiting {
    int drops = 0;   // Drop calls waiting
    int takers = 0;  // Take calls waiting for the spare being made
  };

  bool NoSpare() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a spare of `bytes` leaves room for a write of that size, in the
  // budget and the filesystem.
  bool RoomFor(int64_t bytes) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool WorkPending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The thread: makes, replaces and drops the spare as asked.
  void Maintain();
  // The thread's steps; both release mu_ while they touch the file.
  void Remove() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Fill(int64_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  absl::Mutex* const mu_;
  Budget* const budget_ ABSL_PT_GUARDED_BY(mu_);
  std::unique_ptr<SpareFile> spare_ ABSL_GUARDED_BY(mu_);  // ready
  Sizes sizes_ ABSL_GUARDED_BY(mu_);
  Waiting waiting_ ABSL_GUARDED_BY(mu_);
  absl::Time last_take_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<bool> cancelled_{false};  // stops the spare being made
  std::thread thread_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_SPARE_POOL_H_
