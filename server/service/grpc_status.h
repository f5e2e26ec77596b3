// The one place where absl::Status becomes grpc::Status at the service
// boundary.
#ifndef MATCACHE_SERVER_SERVICE_GRPC_STATUS_H_
#define MATCACHE_SERVER_SERVICE_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Converts `status` (same code, same message). A non-OK status is also
// logged with the name of the RPC that returns it.
grpc::Status ToGrpcStatus(absl::string_view rpc, const absl::Status& status);

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_GRPC_STATUS_H_
