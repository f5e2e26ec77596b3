// Metrics: what matcached exposes to Prometheus. Store-wide figures are read
// from Store::Stats (and the watchers' from WatchHub::counts) at each
// scrape, so they are never stale; requests are
// counted, timed and their response bytes summed by the transports as they
// finish. No label ever holds a matrix name (their number is unbounded).
//
// Thread-safe. `store` and `watches` must outlive the Metrics.
#ifndef MATCACHE_SERVER_METRICS_METRICS_H_
#define MATCACHE_SERVER_METRICS_METRICS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "server/core/cache/store.h"
#include "server/watch/watch_hub.h"

namespace matcache {

class Metrics {
 public:
  Metrics(const Store* store, const WatchHub* watches);

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts a finished request: `transport` "grpc" or "http", `method` the
  // RPC or route name (a fixed set, never a matrix name), `code` its status
  // (a gRPC code name or an HTTP status), `seconds` from start to finish.
  void CountRequest(absl::string_view transport, absl::string_view method,
                    absl::string_view code, double seconds);

  // Counts `bytes` of response bodies sent over `transport`.
  void CountSentBytes(absl::string_view transport, int64_t bytes);

  // Every metric in Prometheus's text exposition format.
  std::string Scrape() const;

 private:
  // The time series one kind of finished request adds to.
  struct RequestSeries {
    prometheus::Counter* requests;
    prometheus::Histogram* duration;
  };

  // The series of (`transport`, `method`, `code`) and of `transport`,
  // registered at first use and then found without building a metric:
  // prometheus-cpp's Family::Add makes one (a histogram allocates every
  // bucket) even when the labels are already there.
  RequestSeries RequestSeriesFor(absl::string_view transport,
                                 absl::string_view method,
                                 absl::string_view code);
  prometheus::Counter* SentBytesFor(absl::string_view transport);

  std::shared_ptr<prometheus::Registry> registry_;
  // The store's and the watchers' figures.
  std::shared_ptr<const prometheus::Collectable> collector_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
  prometheus::Family<prometheus::Counter>& sent_bytes_;
  absl::Mutex mu_;
  // Keyed by the labels' values joined with '\n' (none holds one).
  absl::flat_hash_map<std::string, RequestSeries> request_series_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, prometheus::Counter*> sent_series_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_METRICS_METRICS_H_
