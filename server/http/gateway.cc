#include "server/http/gateway.h"

#include <microhttpd.h>

#include <chrono>
#include <utility>

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace matcache {
namespace {

constexpr char kTransport[] = "http";
// Largest page of GET /v1/matrices, also its default.
constexpr size_t kMaxListPage = 1000;

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
    {"/v1/matrices", "GET", "list"},
};
constexpr absl::string_view kMatrixPrefix = "/v1/matrices/";

std::string Rfc3339(absl::Time time) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

nlohmann::json ToJson(const MatrixInfo& info) {
  nlohmann::json json = {
      {"name", info.name},
      {"shape", info.shape},
      {"dtype", std::string(GetDTypeInfo(info.dtype).name)},
      {"original_dtype", std::string(GetDTypeInfo(info.original_dtype).name)},
      {"nbytes", info.nbytes},
      {"generation", info.generation},
      {"id", info.generation != 0 ? info.id.ToHex() : ""},
      {"created", info.generation != 0 ? nlohmann::json(Rfc3339(info.created))
                                       : nlohmann::json(nullptr)},
      {"pinned", info.pinned},
      {"expires", info.expires != absl::InfiniteFuture()
                      ? nlohmann::json(Rfc3339(info.expires))
                      : nlohmann::json(nullptr)},
      {"source", info.source},
  };
  return json;
}

HttpResponse Json(const nlohmann::json& json) {
  HttpResponse response;
  response.content_type = "application/json";
  response.body = json.dump();
  return response;
}

// Whether the If-None-Match header `sent` names `etag` (or is "*").
bool Matches(const std::optional<std::string>& sent, const std::string& etag) {
  if (!sent.has_value()) return false;
  for (absl::string_view candidate : absl::StrSplit(*sent, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    if (absl::StartsWith(candidate, "W/")) candidate.remove_prefix(2);
    if (candidate == etag || candidate == "*") return true;
  }
  return false;
}

HttpResponse Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

}  // namespace

HttpResponse ProblemFor(const absl::Status& status) {
  int http = 500;
  switch (status.code()) {
    case absl::StatusCode::kNotFound: http = 404; break;
    case absl::StatusCode::kInvalidArgument: http = 400; break;
    case absl::StatusCode::kResourceExhausted: http = 507; break;
    case absl::StatusCode::kPermissionDenied: http = 403; break;
    case absl::StatusCode::kUnauthenticated: http = 401; break;
    case absl::StatusCode::kFailedPrecondition: http = 409; break;
    case absl::StatusCode::kUnavailable: http = 503; break;
    default: break;
  }
  HttpResponse response = Problem(http, std::string(status.message()),
                                  absl::StatusCodeToString(status.code()));
  if (http == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

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

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    HttpServerOptions options, const Store* store, const AccessPolicy* access,
    Metrics* metrics) {
  std::unique_ptr<Gateway> gateway(new Gateway(store, access, metrics));
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
  if (absl::StartsWith(request.path, kMatrixPrefix)) {
    *method = "info";
    const absl::string_view name =
        absl::string_view(request.path).substr(kMatrixPrefix.size());
    if (request.method != "GET" && request.method != "HEAD") {
      HttpResponse refused = Problem(
          405, absl::StrCat(request.method, " is not allowed on ", request.path),
          "UNIMPLEMENTED");
      refused.headers.emplace_back("Allow", "GET");
      return refused;
    }
    return DescribeMatrix(request, name);
  }
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
    if (*method == "list") return ListMatrices(request);
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

HttpResponse Gateway::ListMatrices(const HttpRequest& request) const {
  if (absl::Status allowed = access_->Check(request.authorization, Access::kRead,
                                            Transport::kTcp, "List");
      !allowed.ok()) {
    return ProblemFor(allowed);
  }
  auto parameter = [&](const char* key) {
    auto it = request.query.find(key);
    return it != request.query.end() ? it->second : std::string();
  };
  size_t limit = kMaxListPage;
  if (const std::string text = parameter("limit"); !text.empty()) {
    if (!absl::SimpleAtoi(text, &limit) || limit == 0) {
      return ProblemFor(absl::InvalidArgumentError(absl::StrCat(
          "limit=", text, " is not a positive whole number")));
    }
    limit = std::min(limit, kMaxListPage);
  }
  // One more than asked: whether there is a next page.
  std::vector<MatrixInfo> listed =
      store_->List(parameter("prefix"), parameter("start_after"), limit + 1);
  nlohmann::json next = nullptr;
  if (listed.size() > limit) {
    listed.resize(limit);
    next = listed.back().name;
  }
  nlohmann::json matrices = nlohmann::json::array();
  for (const MatrixInfo& info : listed) matrices.push_back(ToJson(info));
  return Json({{"matrices", std::move(matrices)}, {"next", std::move(next)}});
}

HttpResponse Gateway::DescribeMatrix(const HttpRequest& request,
                                     absl::string_view name) const {
  if (absl::Status allowed = access_->Check(request.authorization, Access::kRead,
                                            Transport::kTcp, "Info");
      !allowed.ok()) {
    return ProblemFor(allowed);
  }
  absl::StatusOr<MatrixInfo> info = store_->Info(name);
  if (!info.ok()) return ProblemFor(info.status());
  // A version's metadata changes only with its pin or expiry.
  const std::string etag = absl::StrCat(
      "\"", info->id.ToHex(), "-", info->pinned ? "p" : "u", "-",
      absl::ToUnixSeconds(info->expires), "\"");
  HttpResponse response = Matches(request.if_none_match, etag)
                              ? HttpResponse{304, "application/json", {}, ""}
                              : Json(ToJson(*info));
  response.headers.emplace_back("ETag", etag);
  return response;
}

}  // namespace matcache
