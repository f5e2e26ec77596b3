// ReadReactor: one server-streaming Read call. Holds the segment of one
// generation for the whole stream, so a concurrent replace or delete never
// mixes versions, and keeps exactly one write in flight, so a client that
// stops reading holds the server to one chunk of memory.
//
// This version streams whole matrices: a request with indices or a dtype
// cast is answered UNIMPLEMENTED.
#ifndef MATCACHE_SERVER_SERVICE_READ_REACTOR_H_
#define MATCACHE_SERVER_SERVICE_READ_REACTOR_H_

#include <cstdint>
#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "matcache/v1/matcache.pb.h"
#include "server/core/segment.h"
#include "server/core/store.h"

namespace matcache {

class ReadReactor final : public grpc::ServerWriteReactor<v1::ReadResponse> {
 public:
  // Validates `request` and starts streaming (or finishes with an error).
  // Deletes itself when the call is done.
  ReadReactor(const Store& store, const v1::ReadRequest& request,
              int64_t default_chunk_bytes);

  void OnWriteDone(bool ok) override;
  void OnDone() override;

 private:
  absl::StatusOr<std::shared_ptr<const Segment>> Open(
      const Store& store, const v1::ReadRequest& request) const;
  void WriteNextChunk();

  std::shared_ptr<const Segment> segment_;
  int64_t chunk_bytes_ = 0;
  int64_t sent_ = 0;
  v1::ReadResponse response_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_READ_REACTOR_H_
