// Gateway: the HTTP side of matcached, on its own listeners
// (--http_listen): GET /healthz (200 "ok" while the process serves),
// GET /readyz (200 once the store is open and every listener is up, else
// 503) and GET /metrics (Prometheus text format), all open without a
// token; GET /v1/matrices[?prefix=P&start_after=S&limit=N] and
// GET /v1/matrices/{name}: MatrixInfo as JSON, with an ETag, behind the
// same access policy as TCP gRPC calls. Errors are application/problem+json
// (RFC 9457) with the gRPC code beside the HTTP status: an unknown route
// 404, a wrong method 405 with Allow. Every request is counted in the
// Metrics.
//
// Thread-safe. `store`, `access` and `metrics` must outlive the gateway.
#ifndef MATCACHE_SERVER_HTTP_GATEWAY_H_
#define MATCACHE_SERVER_HTTP_GATEWAY_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/access/access_policy.h"
#include "server/core/cache/store.h"
#include "server/http/http_server.h"
#include "server/metrics/metrics.h"

namespace matcache {

class Gateway {
 public:
  // Starts serving on options.listen; HttpServer::Start's errors. Not ready
  // until SetReady(true).
  static absl::StatusOr<std::unique_ptr<Gateway>> Start(
      HttpServerOptions options, const Store* store, const AccessPolicy* access,
      Metrics* metrics);

  // What /readyz answers from now on.
  void SetReady(bool ready) { ready_.store(ready); }

  // "HOST:PORT" of each listener, with the port chosen for port 0.
  const std::vector<std::string>& addresses() const {
    return server_->addresses();
  }

 private:
  Gateway(const Store* store, const AccessPolicy* access, Metrics* metrics)
      : store_(store), access_(access), metrics_(metrics) {}
  HttpResponse Handle(const HttpRequest& request) const;
  HttpResponse Route(const HttpRequest& request, std::string* method) const;
  HttpResponse ListMatrices(const HttpRequest& request) const;
  HttpResponse DescribeMatrix(const HttpRequest& request,
                              absl::string_view name) const;

  const Store* const store_;
  const AccessPolicy* const access_;
  Metrics* const metrics_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<HttpServer> server_;
};

// An application/problem+json response: `status`, its standard title,
// `detail`, and the gRPC code name (e.g. "NOT_FOUND") that says the same.
HttpResponse Problem(int status, const std::string& detail,
                     const std::string& grpc_code);

// The problem response for a non-OK `status`: NOT_FOUND 404,
// INVALID_ARGUMENT 400, RESOURCE_EXHAUSTED 507, PERMISSION_DENIED 403,
// UNAUTHENTICATED 401 (with WWW-Authenticate: Bearer), FAILED_PRECONDITION
// 409, UNAVAILABLE 503, anything else 500.
HttpResponse ProblemFor(const absl::Status& status);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_GATEWAY_H_
