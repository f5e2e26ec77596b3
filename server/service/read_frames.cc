#include "server/service/read_frames.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace matcache {
namespace {

// Field 2 (ReadResponse.data), wire type 2 (length-delimited).
constexpr uint8_t kDataKey = (2 << 3) | 2;

}  // namespace

absl::StatusOr<int64_t> ChunkBytes(int64_t requested, int64_t default_bytes) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_bytes is negative (", requested, ")"));
  }
  return requested > 0 ? std::min(requested, kMaxReadChunkBytes) : default_bytes;
}

grpc::ByteBuffer HeaderFrame(const v1::ReadHeader& header) {
  v1::ReadResponse response;
  *response.mutable_header() = header;
  const std::string bytes = response.SerializeAsString();
  grpc::Slice slice(bytes.data(), bytes.size());
  return grpc::ByteBuffer(&slice, 1);
}

grpc::ByteBuffer DataFrame(grpc::Slice payload) {
  uint8_t prefix[11];
  size_t used = 0;
  prefix[used++] = kDataKey;
  for (uint64_t length = payload.size(); ; length >>= 7) {
    const uint8_t low = length & 0x7f;
    if (length < 0x80) {
      prefix[used++] = low;
      break;
    }
    prefix[used++] = low | 0x80;
  }
  grpc::Slice slices[] = {grpc::Slice(prefix, used), std::move(payload)};
  return grpc::ByteBuffer(slices, 2);
}

grpc::Slice BorrowedSlice(const char* data, size_t size,
                          std::shared_ptr<const void> owner) {
  auto* keep = new std::shared_ptr<const void>(std::move(owner));
  return grpc::Slice(
      const_cast<char*>(data), size,
      [](void* p) { delete static_cast<std::shared_ptr<const void>*>(p); },
      keep);
}

absl::Status ParseRequest(const grpc::ByteBuffer& raw,
                          google::protobuf::MessageLite* request) {
  std::vector<grpc::Slice> slices;
  if (!raw.Dump(&slices).ok()) {
    return absl::InvalidArgumentError("unreadable request");
  }
  std::string bytes;
  for (const grpc::Slice& slice : slices) {
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  }
  if (!request->ParseFromString(bytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed ", request->GetTypeName()));
  }
  return absl::OkStatus();
}

}  // namespace matcache
