// EventStreams: GET /v1/events[?prefix=P&initial=true], the changes of the
// matrices whose names start with P as server-sent events
// (text/event-stream), from one WatchHub watcher per stream:
//
//   id: 42
//   event: put                      (or delete)
//   data: {"name": ..., "generation": ..., "reason": "put", "info": {...}}
//
// `reason` is put, load, delete, eviction or expiry; `info` (MatrixInfoJson)
// comes with puts only; `id` is the change's sequence in the server's commit
// order. With initial=true a put per matrix published now comes first
// (reason "snapshot"), then "event: snapshot_complete". Every `heartbeat`
// an idle stream gets a comment line (": heartbeat"), which keeps proxies
// from closing it and lets the server see a client that left: a waiting
// stream's connection is not polled, so a departure shows when a heartbeat
// fails to go out (the second after it, as TCP goes). The bounds of Watch
// apply: a stream whose watcher falls behind ends with "event: error" and
// data {"grpc_code": "ABORTED", "detail": ...} (list again, then
// reconnect); a server shutting down ends its streams, with such an event
// (UNAVAILABLE) when there is time to send it.
//
// Thread-safe. `hub` and `metrics` must outlive it, and it must outlive
// its streams (destroy the HttpServer first).
#ifndef MATCACHE_SERVER_HTTP_EVENT_STREAM_H_
#define MATCACHE_SERVER_HTTP_EVENT_STREAM_H_

#include <map>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/http/http_server.h"
#include "server/metrics/metrics.h"
#include "server/watch/watch_hub.h"

namespace matcache {

class EventStreams {
 public:
  EventStreams(WatchHub* hub, Metrics* metrics, absl::Duration heartbeat);
  // Stops the heartbeats.
  ~EventStreams();
  EventStreams(const EventStreams&) = delete;
  EventStreams& operator=(const EventStreams&) = delete;

  // The answer to GET /v1/events with `query`, the caller being allowed to
  // read: the stream, or a problem: 400 for an unknown or malformed
  // parameter, 503 while the server shuts down.
  HttpResponse Open(const std::map<std::string, std::string>& query);

 private:
  class Body;

  // The heartbeat thread.
  void Beat();

  WatchHub* const hub_;
  Metrics* const metrics_;
  const absl::Duration heartbeat_;
  absl::Mutex mu_;
  absl::flat_hash_set<Body*> bodies_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread beater_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_EVENT_STREAM_H_
