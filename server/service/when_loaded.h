// Starting a Read or Preview stream: parse the raw request, then run the
// stream's start once its matrix is published, reading it from its .npy
// source first (on the worker pool, never on a gRPC thread) when needed.
#ifndef MATCACHE_SERVER_SERVICE_WHEN_LOADED_H_
#define MATCACHE_SERVER_SERVICE_WHEN_LOADED_H_

#include <string>
#include <utility>

#include <grpcpp/support/byte_buffer.h>

#include "absl/status/status.h"
#include "server/core/cache/store.h"
#include "server/service/read_frames.h"
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

// Parses `raw` into a Request and then, as WhenLoaded, calls
// `begin(start(request))` (`begin(parse error)` if it does not parse).
// `start` takes the parsed request.
template <typename Request, typename Start, typename Begin>
void StartStream(Store& store, WorkerPool* pool, const grpc::ByteBuffer& raw,
                 Start start, Begin begin) {
  Request request;
  absl::Status parsed = ParseRequest(raw, &request);
  if (!parsed.ok()) {
    begin(parsed);
    return;
  }
  WhenLoaded(
      store, pool, request.name(), [start, request]() { return start(request); },
      begin);
}

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_WHEN_LOADED_H_
