#include "server/http/gateway.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/checksum.h"
#include "server/core/storage/mount_info.h"
#include "server/http/data_response.h"
#include "server/http/matrix_json.h"
#include "server/http/npy_upload.h"
#include "server/http/preview_response.h"
#include "server/http/problem.h"
#include "server/http/query_params.h"
#include "server/http/stats_json.h"
#include "server/http/status_page.h"
#include "server/http/zarr_view.h"

namespace matcache {
namespace {

constexpr char kTransport[] = "http";
// Largest page of GET /v1/matrices, also its default.
constexpr size_t kMaxListPage = 1000;
constexpr absl::string_view kMatrixPrefix = "/v1/matrices/";
constexpr absl::string_view kZarrPrefix = "/zarr";

// The routes of fixed paths and the one method each takes.
struct FixedRoute {
  const char* path;
  const char* name;  // the metrics label
};
constexpr FixedRoute kFixedRoutes[] = {
    {"/healthz", "healthz"},
    {"/readyz", "readyz"},
    {"/metrics", "metrics"},
    {"/v1/matrices", "list"},
    {"/v1/stats", "stats"},
    {"/v1/events", "events"},
};

bool IsRead(const std::string& method) { return method == "GET" || method == "HEAD"; }

// UNIMPLEMENTED for a conditional PUT or DELETE: carried out regardless,
// it would break the condition (RFC 9110 §13.1.1).
absl::Status TakesNoConditions(const HttpRequest& request) {
  if (!request.if_match.has_value() && !request.if_none_match.has_value()) {
    return absl::OkStatus();
  }
  return absl::UnimplementedError(absl::StrCat(
      request.method, " does not take If-Match or If-None-Match (conditional ",
      "changes are not supported); nothing was changed"));
}

// INVALID_ARGUMENT naming the first query parameter of a route that takes
// none.
absl::Status TakesNoParameters(const HttpRequest& request) {
  return QueryParams(request.query).CheckAllTaken("");
}

// Whether the If-None-Match header `sent` names `etag` (or is "*"),
// compared weakly (RFC 9110 §13.1.2): a W/ prefix on either side is ignored.
bool Matches(const std::optional<std::string>& sent, absl::string_view etag) {
  if (!sent.has_value()) return false;
  absl::ConsumePrefix(&etag, "W/");
  for (absl::string_view candidate : absl::StrSplit(*sent, ',')) {
    candidate = absl::StripAsciiWhitespace(candidate);
    absl::ConsumePrefix(&candidate, "W/");
    if (candidate == etag || candidate == "*") return true;
  }
  return false;
}

// 304 with `etag` if the request names it, else `make()` with the ETag.
template <typename Make>
HttpResponse WithEtag(const HttpRequest& request, const std::string& etag,
                      Make make) {
  HttpResponse response;
  if (Matches(request.if_none_match, etag)) {
    response.status = 304;
    response.content_type.clear();
  } else {
    response = make();
  }
  if (response.status < 300 || response.status == 304) {
    response.headers.emplace_back("ETag", etag);
  }
  return response;
}

// The ETag of a view of one version: its id and a digest of the query.
std::string ViewEtag(const Segment& segment, absl::string_view view,
                     const std::map<std::string, std::string>& query) {
  std::string key(view);
  for (const auto& [name, value] : query) absl::StrAppend(&key, "&", name, "=", value);
  return absl::StrCat("\"", segment.header().id.ToHex(), "-",
                      absl::Hex(Checksum(key.data(), key.size()), absl::kZeroPad16),
                      "\"");
}

HttpResponse Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

// A streamed body whose bytes are counted as sent.
class CountedBody : public HttpBody {
 public:
  CountedBody(std::unique_ptr<HttpBody> body, Metrics* metrics)
      : body_(std::move(body)), metrics_(metrics) {}
  size_t Read(char* out, size_t capacity) override {
    const size_t read = body_->Read(out, capacity);
    metrics_->CountSentBytes(kTransport, static_cast<int64_t>(read));
    return read;
  }

 private:
  const std::unique_ptr<HttpBody> body_;
  Metrics* const metrics_;
};

// Counts a response: its request, and its body if not streamed.
void Count(Metrics* metrics, const std::string& method,
           std::chrono::steady_clock::time_point start, HttpResponse* response) {
  const std::chrono::duration<double> elapsed =
      std::chrono::steady_clock::now() - start;
  metrics->CountRequest(kTransport, method, absl::StrCat(response->status),
                        elapsed.count());
  if (response->stream != nullptr) {
    response->stream =
        std::make_unique<CountedBody>(std::move(response->stream), metrics);
  } else {
    int64_t bytes = static_cast<int64_t>(response->body.size());
    for (absl::string_view region : response->regions) {
      bytes += static_cast<int64_t>(region.size());
    }
    metrics->CountSentBytes(kTransport, bytes);
  }
}

// An upload whose request is counted when it is answered (or cut off).
class CountedUpload : public HttpUpload {
 public:
  CountedUpload(std::unique_ptr<HttpUpload> upload, Metrics* metrics,
                std::string method, std::chrono::steady_clock::time_point start)
      : upload_(std::move(upload)),
        metrics_(metrics),
        method_(std::move(method)),
        start_(start) {}
  ~CountedUpload() override {
    if (!counted_) {
      const std::chrono::duration<double> elapsed =
          std::chrono::steady_clock::now() - start_;
      metrics_->CountRequest(kTransport, method_, "aborted", elapsed.count());
    }
  }
  std::optional<HttpResponse> Receive(absl::string_view data) override {
    std::optional<HttpResponse> refused = upload_->Receive(data);
    if (refused.has_value()) Answered(&*refused);
    return refused;
  }
  HttpResponse Finish() override {
    HttpResponse response = upload_->Finish();
    Answered(&response);
    return response;
  }

 private:
  void Answered(HttpResponse* response) {
    counted_ = true;
    Count(metrics_, method_, start_, response);
  }

  const std::unique_ptr<HttpUpload> upload_;
  Metrics* const metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
  bool counted_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Start(
    GatewayOptions options, Store* store, WatchHub* watches,
    const SharedAccessPolicy* access, Metrics* metrics) {
  HttpServerOptions server_options = options.server;
  const MountInfo mount = MountInfoOf(store->options().shm_dir);
  ServerFacts facts{absl::Now(), store->options().shm_dir, mount.fs_type,
                    mount.huge_pages};
  std::unique_ptr<Gateway> gateway(new Gateway(std::move(options), std::move(facts),
                                               store, watches, access, metrics));
  Gateway* self = gateway.get();
  ASSIGN_OR_RETURN(gateway->server_,
                   HttpServer::Start(std::move(server_options),
                                     [self](const HttpRequest& request) {
                                       return self->Handle(request);
                                     }));
  return gateway;
}

HttpAnswer Gateway::Handle(const HttpRequest& request) const {
  const auto start = std::chrono::steady_clock::now();
  std::string method = "unknown";
  HttpAnswer answer = Route(request, &method);
  if (auto* upload = std::get_if<std::unique_ptr<HttpUpload>>(&answer)) {
    return std::make_unique<CountedUpload>(std::move(*upload), metrics_,
                                           std::move(method), start);
  }
  HttpResponse response = held_answers_.Hold(std::get<HttpResponse>(std::move(answer)));
  Count(metrics_, method, start, &response);
  return response;
}

HttpAnswer Gateway::Route(const HttpRequest& request, std::string* method) const {
  if (request.repeated_query.has_value()) {
    return ProblemFor(absl::InvalidArgumentError(absl::StrCat(
        "query parameter \"", *request.repeated_query,
        "\" is given more than once")));
  }
  if (absl::StartsWith(request.path, kMatrixPrefix)) {
    return RouteMatrix(request,
                       absl::string_view(request.path).substr(kMatrixPrefix.size()),
                       method);
  }
  if (request.path == "/" || absl::StartsWith(request.path, "/status/")) {
    *method = "status_page";
    if (!IsRead(request.method)) {
      return MethodNotAllowed(request.method, request.path, "GET, HEAD");
    }
    if (std::optional<HttpResponse> file = StatusPageFile(request.path)) {
      return *std::move(file);
    }
    return Problem(404, absl::StrCat("no such resource: ", request.path),
                   "NOT_FOUND");
  }
  if (request.path == kZarrPrefix || absl::StartsWith(request.path, "/zarr/")) {
    *method = "zarr";
    if (!IsRead(request.method)) {
      return MethodNotAllowed(request.method, request.path, "GET, HEAD");
    }
    if (absl::Status allowed = Allowed(request, Access::kRead, "Zarr"); !allowed.ok()) {
      return ProblemFor(allowed);
    }
    return ZarrResponse(store_,
                        absl::string_view(request.path).substr(kZarrPrefix.size()));
  }
  for (const FixedRoute& route : kFixedRoutes) {
    if (request.path != route.path) continue;
    *method = route.name;
    if (!IsRead(request.method)) {
      return MethodNotAllowed(request.method, route.path, "GET, HEAD");
    }
    if (*method == "healthz") return Text(200, "ok\n");
    if (*method == "list") return ListMatrices(request);
    if (*method == "stats") return DescribeServer(request);
    if (*method == "events") {
      absl::Status allowed = Allowed(request, Access::kRead, "Watch");
      return allowed.ok() ? events_->Open(request.query) : ProblemFor(allowed);
    }
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

HttpAnswer Gateway::RouteMatrix(const HttpRequest& request,
                                absl::string_view rest,
                                std::string* method) const {
  const size_t slash = rest.find('/');
  const absl::string_view name = rest.substr(0, slash);
  if (slash != absl::string_view::npos) {
    const absl::string_view view = rest.substr(slash + 1);
    if (view != "data" && view != "preview") {
      return Problem(404, absl::StrCat("no such resource: ", request.path,
                                       " (a matrix has /data and /preview)"),
                     "NOT_FOUND");
    }
    *method = std::string(view);
    if (!IsRead(request.method)) {
      return MethodNotAllowed(request.method, request.path, "GET, HEAD");
    }
    return ReadMatrix(request, name, view);
  }
  if (IsRead(request.method)) {
    *method = "info";
    return DescribeMatrix(request, name);
  }
  if (request.method == "PUT") {
    *method = "put";
    if (absl::Status allowed = Allowed(request, Access::kWrite, "Put"); !allowed.ok()) {
      return ProblemFor(allowed);
    }
    if (absl::Status unconditional = TakesNoConditions(request); !unconditional.ok()) {
      return ProblemFor(unconditional);
    }
    absl::StatusOr<std::unique_ptr<HttpUpload>> upload =
        NpyUpload::Start(store_, name, request);
    if (!upload.ok()) return ProblemFor(upload.status());
    return *std::move(upload);
  }
  if (request.method == "DELETE") {
    *method = "delete";
    if (absl::Status allowed = Allowed(request, Access::kWrite, "Delete"); !allowed.ok()) {
      return ProblemFor(allowed);
    }
    if (absl::Status none = TakesNoParameters(request); !none.ok()) {
      return ProblemFor(none);
    }
    if (absl::Status unconditional = TakesNoConditions(request); !unconditional.ok()) {
      return ProblemFor(unconditional);
    }
    return DeleteMatrix(name);
  }
  *method = "info";
  return MethodNotAllowed(request.method, request.path, "GET, HEAD, PUT, DELETE");
}

absl::Status Gateway::Allowed(const HttpRequest& request, Access access,
                              absl::string_view rpc) const {
  const std::optional<HttpTlsOptions>& tls = options_.server.tls;
  if (tls.has_value() && !tls->client_ca.empty() && !request.client_verified) {
    return absl::UnauthenticatedError(absl::StrCat(
        rpc, " needs a client certificate signed by the server's client CA"));
  }
  std::optional<absl::string_view> authorization;
  if (request.authorization.has_value()) authorization = *request.authorization;
  return access_->Check(authorization, access, Transport::kTcp, rpc);
}

HttpResponse Gateway::ListMatrices(const HttpRequest& request) const {
  if (absl::Status allowed = Allowed(request, Access::kRead, "List"); !allowed.ok()) {
    return ProblemFor(allowed);
  }
  QueryParams params(request.query);
  const std::string prefix = params.Take("prefix").value_or("");
  const std::string start_after = params.Take("start_after").value_or("");
  const std::optional<std::string> limit_text = params.Take("limit");
  if (absl::Status taken = params.CheckAllTaken("prefix, start_after, limit");
      !taken.ok()) {
    return ProblemFor(taken);
  }
  size_t limit = kMaxListPage;
  if (limit_text.has_value()) {
    if (!absl::SimpleAtoi(*limit_text, &limit) || limit == 0) {
      return ProblemFor(absl::InvalidArgumentError(absl::StrCat(
          "limit=", *limit_text, " is not a positive whole number")));
    }
    limit = std::min(limit, kMaxListPage);
  }
  // One more than asked: whether there is a next page.
  std::vector<MatrixInfo> listed = store_->List(prefix, start_after, limit + 1);
  nlohmann::json next = nullptr;
  if (listed.size() > limit) {
    listed.resize(limit);
    next = listed.back().name;
  }
  nlohmann::json matrices = nlohmann::json::array();
  for (const MatrixInfo& info : listed) matrices.push_back(MatrixInfoJson(info));
  return JsonResponse({{"matrices", std::move(matrices)}, {"next", std::move(next)}});
}

HttpResponse Gateway::DescribeServer(const HttpRequest& request) const {
  if (absl::Status allowed = Allowed(request, Access::kRead, "Stats"); !allowed.ok()) {
    return ProblemFor(allowed);
  }
  if (absl::Status none = TakesNoParameters(request); !none.ok()) {
    return ProblemFor(none);
  }
  return JsonResponse(StatsJson(store_->Stats(), facts_, absl::Now()));
}

HttpResponse Gateway::DescribeMatrix(const HttpRequest& request,
                                     absl::string_view name) const {
  if (absl::Status allowed = Allowed(request, Access::kRead, "Info"); !allowed.ok()) {
    return ProblemFor(allowed);
  }
  if (absl::Status none = TakesNoParameters(request); !none.ok()) {
    return ProblemFor(none);
  }
  absl::StatusOr<MatrixInfo> info = store_->Info(name);
  if (!info.ok()) return ProblemFor(info.status());
  // Weak: a version's metadata changes only with its pin or expiry, besides
  // its last access.
  const std::string etag = absl::StrCat(
      "W/\"", info->id.ToHex(), "-", info->pinned ? "p" : "u", "-",
      absl::ToUnixSeconds(info->expires), "\"");
  return WithEtag(request, etag, [&] { return JsonResponse(MatrixInfoJson(*info)); });
}

HttpResponse Gateway::DeleteMatrix(absl::string_view name) const {
  if (absl::Status deleted = store_->Delete(name); !deleted.ok()) {
    return ProblemFor(deleted);
  }
  HttpResponse response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

HttpResponse Gateway::ReadMatrix(const HttpRequest& request, absl::string_view name,
                                 absl::string_view view) const {
  const absl::string_view rpc = view == "data" ? "Read" : "Preview";
  if (absl::Status allowed = Allowed(request, Access::kRead, rpc); !allowed.ok()) {
    return ProblemFor(allowed);
  }
  if (absl::Status loaded = store_->EnsureLoaded(name); !loaded.ok()) {
    return ProblemFor(loaded);
  }
  absl::StatusOr<std::shared_ptr<const Segment>> segment = store_->Acquire(name);
  if (!segment.ok()) return ProblemFor(segment.status());
  // The query is checked before the precondition: a request that would fail
  // fails with If-None-Match too (RFC 9110 §13.2.1).
  absl::StatusOr<HttpResponseMaker> make =
      view == "data"
          ? DataResponse(*segment, request.query, options_.json_max_elements)
          : PreviewResponse(*segment, request.query, options_.preview_threads);
  if (!make.ok()) return ProblemFor(make.status());
  return WithEtag(request, ViewEtag(**segment, view, request.query), [&] {
    absl::StatusOr<HttpResponse> response = std::move(*make)();
    return response.ok() ? *std::move(response) : ProblemFor(response.status());
  });
}

}  // namespace matcache
