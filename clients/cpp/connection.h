// Client::Connection: the gRPC channel of a Client and the calls made on
// it, shared by the client's files (client.cc, watch_stream.cc); not
// installed. Thread-safe.
#ifndef MATCACHE_CLIENTS_CPP_CONNECTION_H_
#define MATCACHE_CLIENTS_CPP_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "matcache/client.h"
#include "matcache/v1/matcache.grpc.pb.h"

namespace matcache {

class Client::Connection {
 public:
  Connection(std::string address, ClientOptions options);

  // Sets the deadline and the token of a call.
  void PrepareContext(grpc::ClientContext* context) const {
    context->set_deadline(std::chrono::system_clock::now() +
                          absl::ToChronoMilliseconds(options.timeout));
    AddToken(context);
  }

  // Sets the token of a call (a stream without deadline takes only this).
  void AddToken(grpc::ClientContext* context) const {
    if (options.token.has_value() && !options.token->empty()) {
      context->AddMetadata("authorization", absl::StrCat("Bearer ", *options.token));
    }
  }

  // The call's status; UNAVAILABLE names the address.
  absl::Status FromGrpc(const grpc::Status& status) const {
    if (status.ok()) return absl::OkStatus();
    const auto code = static_cast<absl::StatusCode>(status.error_code());
    if (code == absl::StatusCode::kUnavailable) {
      return absl::UnavailableError(absl::StrCat(
          "matcached at ", address, " is unreachable: ", status.error_message()));
    }
    return absl::Status(code, status.error_message());
  }

  // Runs the Read-style stream `method` with `request` into the memory
  // `allocate` gives for the result, which must hold `dtype`.
  absl::Status Stream(absl::string_view method,
                      const google::protobuf::MessageLite& request, DType dtype,
                      Allocate allocate) const;

  absl::StatusOr<MatrixInfo> PutStreamed(absl::string_view name,
                                         const void* data,
                                         absl::Span<const int64_t> shape,
                                         DType dtype, int64_t nbytes);
  void Abort(const std::string& lease);

  const std::string address;
  const ClientOptions options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::MatrixCache::Stub> stub;
};

}  // namespace matcache

#endif  // MATCACHE_CLIENTS_CPP_CONNECTION_H_
