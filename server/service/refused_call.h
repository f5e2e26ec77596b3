// Reactors for streaming calls refused before they start: each finishes its
// call with the given status at once and deletes itself when it is done.
#ifndef MATCACHE_SERVER_SERVICE_REFUSED_CALL_H_
#define MATCACHE_SERVER_SERVICE_REFUSED_CALL_H_

#include <grpcpp/grpcpp.h>

namespace matcache {

template <typename Request>
class RefusedReadCall final : public grpc::ServerReadReactor<Request> {
 public:
  explicit RefusedReadCall(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

template <typename Response>
class RefusedWriteCall final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit RefusedWriteCall(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_REFUSED_CALL_H_
