// Read and Preview responses encoded by hand into grpc::ByteBuffers, so the
// data they carry goes out without protobuf copies: a data frame is a few
// bytes of field key and length followed by the payload slice itself. The
// bytes on the wire are exactly a serialized v1::ReadResponse.
#ifndef MATCACHE_SERVER_SERVICE_READ_FRAMES_H_
#define MATCACHE_SERVER_SERVICE_READ_FRAMES_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "matcache/v1/matcache.pb.h"

namespace matcache {

// Largest data payload of one Read or Preview message: with its framing it
// stays under gRPC's default 4 MiB receive limit.
inline constexpr int64_t kMaxReadChunkBytes = (int64_t{4} << 20) - 64;

// The data bytes per message a request asks for: `requested` capped at
// kMaxReadChunkBytes, `default_bytes` if 0; INVALID_ARGUMENT if negative.
absl::StatusOr<int64_t> ChunkBytes(int64_t requested, int64_t default_bytes);

// A ReadResponse whose payload is `header`.
grpc::ByteBuffer HeaderFrame(const v1::ReadHeader& header);

// A ReadResponse whose payload is the data in `payload` (not copied).
grpc::ByteBuffer DataFrame(grpc::Slice payload);

// A slice over `size` bytes at `data` that keeps `owner` alive until gRPC
// no longer needs the bytes.
grpc::Slice BorrowedSlice(const char* data, size_t size,
                          std::shared_ptr<const void> owner);

// Parses a request received as raw bytes. INVALID_ARGUMENT if malformed.
absl::Status ParseRequest(const grpc::ByteBuffer& raw,
                          google::protobuf::MessageLite* request);

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_READ_FRAMES_H_
