#include "server/http/gateway.h"

#include <microhttpd.h>

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace matcache {
namespace {

constexpr char kTransport[] = "http";

// The routes and the one method each takes.
struct Route {
  const char* path;
  const char* method;
  const char* name;  // the metrics label
};
constexpr Route kRoutes[] = {
    {"/healthz", "GET", "healthz"},
    {"/readyz", "GET", "readyz"},
    {"/metrics", "GET", "metrics"},
};

HttpResponse Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

}  // namespace

HttpResponse Problem(int status, const std::string& detail,
                     const std::string& grpc_code) {
  const char* title = MHD_get_reason_phrase_for(static_cast<unsigned>(status));
  nlohmann::json problem = {
      {"type", "about:blank"},
      {"title", title != nullptr ? title : ""},
      {"status", status},
      {"detail", detail},
      {"grpc_code", grpc_code},
  };
  HttpResponse response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.body = problem.dump();
  return response;
}

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(HttpServerOptions options,
                                                        Metrics* metrics) {
  std::unique_ptr<Gateway> gateway(new Gateway(metrics));
  Gateway* self = gateway.get();
  absl::StatusOr<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      std::move(options),
      [self](const HttpRequest& request) { return self->Handle(request); });
  if (!server.ok()) return server.status();
  gateway->server_ = *std::move(server);
  return gateway;
}

HttpResponse Gateway::Handle(const HttpRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  std::string method = "unknown";
  HttpResponse response = Route(request, &method);
  const std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start;
  metrics_->CountRequest(kTransport, method, absl::StrCat(response.status),
                         elapsed.count());
  metrics_->CountSentBytes(kTransport, static_cast<int64_t>(response.body.size()));
  return response;
}

HttpResponse Gateway::Route(const HttpRequest& request, std::string* method) const {
  for (const auto& route : kRoutes) {
    if (request.path != route.path) continue;
    *method = route.name;
    if (request.method != route.method && request.method != "HEAD") {
      HttpResponse refused = Problem(
          405, absl::StrCat(request.method, " is not allowed on ", route.path),
          "UNIMPLEMENTED");
      refused.headers.emplace_back("Allow", route.method);
      return refused;
    }
    if (*method == "healthz") return Text(200, "ok\n");
    if (*method == "readyz") {
      return ready_.load() ? Text(200, "ready\n") : Text(503, "not ready\n");
    }
    HttpResponse scraped = Text(200, metrics_->Scrape());
    scraped.content_type = "text/plain; version=0.0.4; charset=utf-8";
    return scraped;
  }
  return Problem(404, absl::StrCat("no such resource: ", request.path),
                 "NOT_FOUND");
}

}  // namespace matcache
