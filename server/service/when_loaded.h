// WhenLoaded: runs a stream's start once its matrix is published, reading
// it from its .npy source first (on the worker pool, never on a gRPC thread)
// when that is needed.
#ifndef MATCACHE_SERVER_SERVICE_WHEN_LOADED_H_
#define MATCACHE_SERVER_SERVICE_WHEN_LOADED_H_

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "server/core/store.h"
#include "server/service/worker_pool.h"

namespace matcache {

// Calls `begin(start())` for matrix `name`: at once if it needs no load,
// else on `pool` after Store::EnsureLoaded (begin gets the load's error if
// it fails, or BusyError if the pool is full). `start` returns an
// absl::Status; `begin` takes one.
template <typename Start, typename Begin>
void WhenLoaded(Store& store, WorkerPool* pool, const std::string& name,
                Start start, Begin begin) {
  if (!store.NeedsLoad(name)) {
    begin(start());
    return;
  }
  const bool scheduled = pool->TrySchedule([&store, name, start, begin]() {
    absl::Status loaded = store.EnsureLoaded(name);
    begin(loaded.ok() ? start() : loaded);
  });
  if (!scheduled) begin(BusyError());
}

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_WHEN_LOADED_H_
