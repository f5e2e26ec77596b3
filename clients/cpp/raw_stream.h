// RunRawStream: the client side of a Read or Preview stream without protobuf
// copies of the data: each data frame's payload is copied once, straight from
// gRPC's receive buffers into the caller's memory.
#ifndef MATCACHE_CLIENTS_CPP_RAW_STREAM_H_
#define MATCACHE_CLIENTS_CPP_RAW_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/message_lite.h"
#include "matcache/v1/matcache.pb.h"

namespace matcache {

// Calls the server-streaming `method` (e.g. "/matcache.v1.MatrixCache/Read")
// with `request`, on a context that `prepare_context` sets up (deadline,
// metadata). `on_header` receives the first response's ReadHeader and
// returns where its nbytes bytes of data go (or an error, which cancels the
// call). Returns the call's status as gRPC reported it, or DATA_LOSS if the
// stream does not match its header.
grpc::Status RunRawStream(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view method,
    const google::protobuf::MessageLite& request,
    absl::FunctionRef<void(grpc::ClientContext*)> prepare_context,
    absl::FunctionRef<absl::StatusOr<char*>(const v1::ReadHeader&)> on_header);

}  // namespace matcache

#endif  // MATCACHE_CLIENTS_CPP_RAW_STREAM_H_
