#include "server/service/grpc_status.h"

#include <string>

#include "server/core/base/logging.h"

namespace matcache {

grpc::Status ToGrpcStatus(absl::string_view rpc, const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  LogWarning("%s: %s", rpc, status.ToString());
  // absl::StatusCode and grpc::StatusCode share their numeric values.
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace matcache
