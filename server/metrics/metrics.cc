#include "server/metrics/metrics.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "prometheus/collectable.h"
#include "prometheus/metric_family.h"
#include "prometheus/text_serializer.h"
#include "server/core/base/version.h"

namespace matcache {
namespace {

// Request durations, in seconds: from a unary call's fraction of a
// millisecond to a stream of several GiB.
const prometheus::Histogram::BucketBoundaries kDurationBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,    5,    10,  30};

prometheus::MetricFamily Family(std::string name, std::string help,
                                prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return {std::move(name), std::move(help), type, {std::move(metric)}};
}

// The store's own figures and the watchers', read at each scrape.
class StoreCollector : public prometheus::Collectable {
 public:
  StoreCollector(const Store* store, const WatchHub* watches)
      : store_(store), watches_(watches) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    using prometheus::MetricType;
    const StoreStats stats = store_->Stats();
    const WatchCounts watches = watches_->counts();
    std::vector<prometheus::MetricFamily> families = {
        Family("matcache_matrices", "Published matrices.", MetricType::Gauge,
               static_cast<double>(stats.matrix_count)),
        Family("matcache_matrix_bytes", "Data bytes of the published matrices.",
               MetricType::Gauge, static_cast<double>(stats.matrix_bytes)),
        Family("matcache_used_bytes",
               "Bytes of every segment file, published and staging, and of the "
               "spare file.",
               MetricType::Gauge, static_cast<double>(stats.used_bytes)),
        Family("matcache_peak_used_bytes",
               "The most matcache_used_bytes has been since the start.",
               MetricType::Gauge, static_cast<double>(stats.peak_used_bytes)),
        Family("matcache_budget_bytes", "The memory budget (--max_bytes); 0: none.",
               MetricType::Gauge, static_cast<double>(stats.max_bytes)),
        Family("matcache_spare_bytes", "Bytes of the spare file.",
               MetricType::Gauge, static_cast<double>(stats.spare_bytes)),
        Family("matcache_shm_free_bytes",
               "Free bytes of the filesystem holding the segments.",
               MetricType::Gauge, static_cast<double>(stats.shm_dir_free_bytes)),
        Family("matcache_shm_size_bytes",
               "Size of the filesystem holding the segments.", MetricType::Gauge,
               static_cast<double>(stats.shm_dir_total_bytes)),
        Family("matcache_staging_writes", "Puts begun and not yet committed.",
               MetricType::Gauge, static_cast<double>(stats.staging_count)),
        Family("matcache_quarantined", "Segment files set aside as corrupt.",
               MetricType::Gauge, static_cast<double>(stats.quarantined_count)),
        Family("matcache_evictions_total", "Matrices evicted to make room.",
               MetricType::Counter, static_cast<double>(stats.evictions)),
        Family("matcache_expirations_total",
               "Matrices deleted when their time to live ran out.",
               MetricType::Counter, static_cast<double>(stats.expirations)),
        Family("matcache_loads_total", "Matrices read from their .npy source.",
               MetricType::Counter, static_cast<double>(stats.loads)),
        Family("matcache_watchers", "Watch streams and HTTP event streams open.",
               MetricType::Gauge, static_cast<double>(watches.watchers)),
        Family("matcache_watchers_dropped_total",
               "Watchers ended because they fell behind and lost events.",
               MetricType::Counter, static_cast<double>(watches.dropped)),
    };
    prometheus::MetricFamily lookups{
        "matcache_lookups_total", "Lookups (Info, Read, Preview) by result.",
        MetricType::Counter, {}};
    for (const auto& [result, count] :
         {std::pair<const char*, int64_t>{"hit", stats.hits}, {"miss", stats.misses}}) {
      prometheus::ClientMetric metric;
      metric.label = {{"result", result}};
      metric.counter.value = static_cast<double>(count);
      lookups.metric.push_back(std::move(metric));
    }
    families.push_back(std::move(lookups));
    prometheus::MetricFamily build = Family(
        "matcache_build_info", "The server's version, as a label; always 1.",
        MetricType::Gauge, 1);
    build.metric[0].label = {{"version", std::string(Version())}};
    families.push_back(std::move(build));
    return families;
  }

 private:
  const Store* const store_;
  const WatchHub* const watches_;
};

}  // namespace

Metrics::Metrics(const Store* store, const WatchHub* watches)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("matcache_requests_total")
                    .Help("Finished requests by transport, method and status code.")
                    .Register(*registry_)),
      durations_(prometheus::BuildHistogram()
                     .Name("matcache_request_duration_seconds")
                     .Help("Time from a request's start to its end, by transport "
                           "and method.")
                     .Register(*registry_)),
      sent_bytes_(prometheus::BuildCounter()
                      .Name("matcache_sent_bytes_total")
                      .Help("Bytes of response bodies sent, by transport.")
                      .Register(*registry_)) {
  collector_ = std::make_shared<StoreCollector>(store, watches);
}

Metrics::RequestSeries Metrics::RequestSeriesFor(absl::string_view transport,
                                                 absl::string_view method,
                                                 absl::string_view code) {
  const std::string key = absl::StrCat(transport, "\n", method, "\n", code);
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto found = request_series_.find(key);
    if (found != request_series_.end()) return found->second;
  }
  absl::MutexLock lock(&mu_);
  auto [series, added] = request_series_.try_emplace(key);
  if (added) {
    series->second = {
        &requests_.Add({{"transport", std::string(transport)},
                        {"method", std::string(method)},
                        {"code", std::string(code)}}),
        &durations_.Add({{"transport", std::string(transport)},
                         {"method", std::string(method)}},
                        kDurationBuckets)};
  }
  return series->second;
}

prometheus::Counter* Metrics::SentBytesFor(absl::string_view transport) {
  const std::string key(transport);
  {
    absl::ReaderMutexLock lock(&mu_);
    const auto found = sent_series_.find(key);
    if (found != sent_series_.end()) return found->second;
  }
  absl::MutexLock lock(&mu_);
  auto [series, added] = sent_series_.try_emplace(key);
  if (added) series->second = &sent_bytes_.Add({{"transport", key}});
  return series->second;
}

void Metrics::CountRequest(absl::string_view transport, absl::string_view method,
                           absl::string_view code, double seconds) {
  const RequestSeries series = RequestSeriesFor(transport, method, code);
  series.requests->Increment();
  series.duration->Observe(seconds);
}

void Metrics::CountSentBytes(absl::string_view transport, int64_t bytes) {
  SentBytesFor(transport)->Increment(static_cast<double>(bytes));
}

std::string Metrics::Scrape() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  for (prometheus::MetricFamily& family : collector_->Collect()) {
    families.push_back(std::move(family));
  }
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace matcache
