// Gateway: the HTTP side of matcached, on its own listeners
// (--http_listen). Open without a token: GET /healthz (200 "ok" while the
// process serves), GET /readyz (200 once the store is open and every
// listener is up, else 503), GET /metrics (Prometheus text format), and the
// status page (GET / and /status/..., status_page.h). Behind
// the same access policy as TCP gRPC calls (read or write token as
// "Authorization: Bearer"; a client certificate first under mutual TLS):
//   GET    /v1/stats                            the server, as JSON
//   GET    /v1/matrices[?prefix=P&start_after=S&limit=N]   a page of infos
//   GET    /v1/matrices/{name}                  MatrixInfo JSON
//   PUT    /v1/matrices/{name}[?pin&ttl&store_dtype]  an .npy body
//   DELETE /v1/matrices/{name}
//   GET    /v1/matrices/{name}/data[?slice&dtype&format=npy|json]
//   GET    /v1/matrices/{name}/preview?shape=RxC[&method&format=npy|png...]
//   GET    /zarr/...                            a read-only Zarr v2 view
//   GET    /v1/events[?prefix=P&initial=true]   changes as server-sent events
// Info, data and preview responses carry an ETag (the segment id and the
// query) and answer If-None-Match with 304. Errors are problem+json
// (problem.h): an unknown route 404, a wrong method 405 with Allow. Every
// request is counted in the Metrics, and every body byte sent.
//
// Thread-safe. `store`, `watches`, `access` and `metrics` must outlive the
// gateway.
#ifndef MATCACHE_SERVER_HTTP_GATEWAY_H_
#define MATCACHE_SERVER_HTTP_GATEWAY_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/access/access_policy.h"
#include "server/access/shared_access_policy.h"
#include "server/core/cache/store.h"
#include "server/http/event_stream.h"
#include "server/http/http_server.h"
#include "server/http/held_answers.h"
#include "server/http/stats_json.h"
#include "server/metrics/metrics.h"

namespace matcache {

struct GatewayOptions {
  HttpServerOptions server;
  // Most elements a format=json data response may hold.
  int64_t json_max_elements = 1'000'000;
  // Most bytes of whole answers held until their clients read them (see
  // HeldAnswers).
  int64_t answer_memory_bytes = int64_t{256} << 20;
  // Threads one preview is computed with.
  int preview_threads = 2;
  // How often an idle event stream gets a comment line.
  absl::Duration sse_heartbeat = absl::Seconds(15);
};

class Gateway {
 public:
  // Starts serving on options.server.listen; HttpServer::Start's errors.
  // Not ready until SetReady(true).
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      GatewayOptions options, Store* store, WatchHub* watches,
      const SharedAccessPolicy* access, Metrics* metrics);

  // What /readyz answers from now on.
  void SetReady(bool ready) { ready_.store(ready); }

  // "HOST:PORT" of each listener, with the port chosen for port 0.
  const std::vector<std::string>& addresses() const {
    return server_->addresses();
  }

  // HttpServer::ReplaceTls.
  absl::Status ReplaceTls(const HttpTlsOptions& tls) {
    return server_->ReplaceTls(tls);
  }

 private:
  Gateway(GatewayOptions options, ServerFacts facts, Store* store,
          WatchHub* watches, const SharedAccessPolicy* access, Metrics* metrics)
      : options_(std::move(options)),
        facts_(std::move(facts)),
        store_(store),
        access_(access),
        metrics_(metrics),
        held_answers_(options_.answer_memory_bytes),
        events_(std::make_unique<EventStreams>(watches, metrics,
                                               options_.sse_heartbeat)) {}
  HttpAnswer Handle(const HttpRequest& request) const;
  HttpAnswer Route(const HttpRequest& request, std::string* method) const;
  HttpAnswer RouteMatrix(const HttpRequest& request, absl::string_view rest,
                         std::string* method) const;
  // OK if the request may do `access` (`rpc` names it in refusals).
  absl::Status Allowed(const HttpRequest& request, Access access,
                       absl::string_view rpc) const;
  HttpResponse ListMatrices(const HttpRequest& request) const;
  HttpResponse DescribeServer(const HttpRequest& request) const;
  HttpResponse DescribeMatrix(const HttpRequest& request,
                              absl::string_view name) const;
  HttpResponse DeleteMatrix(absl::string_view name) const;
  // GET .../data and .../preview: the segment's response, or 304.
  HttpResponse ReadMatrix(const HttpRequest& request, absl::string_view name,
                          absl::string_view view) const;

  const GatewayOptions options_;
  const ServerFacts facts_;
  Store* const store_;
  const SharedAccessPolicy* const access_;
  Metrics* const metrics_;
  const HeldAnswers held_answers_;
  std::atomic<bool> ready_{false};
  const std::unique_ptr<EventStreams> events_;
  std::unique_ptr<HttpServer> server_;  // last: stops first
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_GATEWAY_H_
