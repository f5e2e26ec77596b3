#include "server/http/problem.h"

#include <microhttpd.h>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace matcache {

HttpResponse Problem(int status, const std::string& detail,
                     const std::string& grpc_code) {
  const char* title = MHD_get_reason_phrase_for(static_cast<unsigned>(status));
  const nlohmann::json problem = {
      {"type", "about:blank"},
      {"title", title != nullptr ? title : ""},
      {"status", status},
      {"detail", detail},
      {"grpc_code", grpc_code},
  };
  HttpResponse response;
  response.status = status;
  response.content_type = "application/problem+json";
  response.body = problem.dump(-1, ' ', false,
                               nlohmann::json::error_handler_t::replace);
  return response;
}

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
    case absl::StatusCode::kUnimplemented: http = 501; break;
    default: break;
  }
  HttpResponse response = Problem(http, std::string(status.message()),
                                  absl::StatusCodeToString(status.code()));
  if (http == 401) response.headers.emplace_back("WWW-Authenticate", "Bearer");
  return response;
}

HttpResponse MethodNotAllowed(const std::string& method, const std::string& path,
                              const std::string& allowed) {
  HttpResponse refused = Problem(
      405, absl::StrCat(method, " is not allowed on ", path, " (only ", allowed, ")"),
      "UNIMPLEMENTED");
  refused.headers.emplace_back("Allow", allowed);
  return refused;
}

}  // namespace matcache
