// Error responses of the HTTP gateway: application/problem+json (RFC 9457)
// with the gRPC code that says the same beside the HTTP status.
#ifndef MATCACHE_SERVER_HTTP_PROBLEM_H_
#define MATCACHE_SERVER_HTTP_PROBLEM_H_

#include <string>

#include "absl/status/status.h"
#include "server/http/http_server.h"

namespace matcache {

// A problem response: `status`, its standard title, `detail`, and
// `grpc_code` (a gRPC code name such as "NOT_FOUND").
HttpResponse Problem(int status, const std::string& detail,
                     const std::string& grpc_code);

// The problem response for a non-OK `status`: NOT_FOUND 404,
// INVALID_ARGUMENT 400, RESOURCE_EXHAUSTED 507, PERMISSION_DENIED 403,
// UNAUTHENTICATED 401 (with WWW-Authenticate: Bearer), FAILED_PRECONDITION
// 409, UNAVAILABLE 503, anything else 500.
HttpResponse ProblemFor(const absl::Status& status);

// 405 for `method` on `path`, with an Allow header listing `allowed`.
HttpResponse MethodNotAllowed(const std::string& method, const std::string& path,
                              const std::string& allowed);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_PROBLEM_H_
