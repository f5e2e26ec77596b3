// HttpResponseMaker: the second half of answering a request whose query has
// been checked, so that a precondition can be evaluated in between.
#ifndef MATCACHE_SERVER_HTTP_RESPONSE_MAKER_H_
#define MATCACHE_SERVER_HTTP_RESPONSE_MAKER_H_

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "server/http/http_server.h"

namespace matcache {

// Makes the response to a request already found valid: the work (reading,
// converting, computing) that a 304 Not Modified spares. Called at most
// once.
using HttpResponseMaker = absl::AnyInvocable<absl::StatusOr<HttpResponse>() &&>;

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_RESPONSE_MAKER_H_
