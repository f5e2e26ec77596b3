// Gateway: the HTTP side of matcached, on its own listeners
// (--http_listen): GET /healthz (200 "ok" while the process serves),
// GET /readyz (200 once the store is open and every listener is up, else
// 503) and GET /metrics (Prometheus text format), all open without a
// token. Errors are application/problem+json (RFC 9457): an unknown route
// 404, a wrong method 405 with Allow. Every request is counted in the
// Metrics.
//
// Thread-safe. `metrics` must outlive the gateway.
#ifndef MATCACHE_SERVER_HTTP_GATEWAY_H_
#define MATCACHE_SERVER_HTTP_GATEWAY_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/http/http_server.h"
#include "server/metrics/metrics.h"

namespace matcache {

class Gateway {
 public:
  // Starts serving on options.listen; HttpServer::Start's errors. Not ready
  // until SetReady(true).
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      HttpServerOptions options, Metrics* metrics);

  // What /readyz answers from now on.
  void SetReady(bool ready) { ready_.store(ready); }

  // "HOST:PORT" of each listener, with the port chosen for port 0.
  const std::vector<std::string>& addresses() const {
    return server_->addresses();
  }

 private:
  explicit Gateway(Metrics* metrics) : metrics_(metrics) {}
  HttpResponse Handle(const HttpRequest& request) const;
  HttpResponse Route(const HttpRequest& request, std::string* method) const;

  Metrics* const metrics_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<HttpServer> server_;
};

// An application/problem+json response: `status`, its standard title,
// `detail`, and the gRPC code name (e.g. "NOT_FOUND") that says the same.
HttpResponse Problem(int status, const std::string& detail,
                     const std::string& grpc_code);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_GATEWAY_H_
