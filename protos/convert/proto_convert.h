// Conversions between the v1 protos and server/core types.
#ifndef MATCACHE_PROTOS_CONVERT_PROTO_CONVERT_H_
#define MATCACHE_PROTOS_CONVERT_PROTO_CONVERT_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_field.h"
#include "google/protobuf/timestamp.pb.h"
#include "matcache/v1/matcache.pb.h"
#include "server/core/array/preview.h"
#include "server/core/array/slice.h"
#include "server/core/base/status_macros.h"
#include "server/core/cache/matrix_info.h"
#include "server/core/cache/retention.h"
#include "server/core/cache/store.h"
#include "matcache/dtype.h"
#include "server/watch/watch_event.h"

namespace matcache {

// INVALID_ARGUMENT for DTYPE_UNSPECIFIED and unknown values.
absl::StatusOr<DType> FromProto(v1::DType dtype);
v1::DType ToProto(DType dtype);

// INVALID_ARGUMENT, naming the position, for an Index with no kind set.
absl::StatusOr<std::vector<Index>> IndicesFromProto(
    const google::protobuf::RepeatedPtrField<v1::Index>& indices);

// UNSPECIFIED means MEAN; INVALID_ARGUMENT for unknown values.
absl::StatusOr<PreviewMethod> PreviewMethodFromProto(v1::PreviewMethod method);
v1::PreviewMethod ToProto(PreviewMethod method);

// The retention a put asks for, expiring `ttl_seconds` after `now` (none if
// 0). INVALID_ARGUMENT for a negative TTL.
absl::StatusOr<Retention> RetentionFromProto(bool pin, int64_t ttl_seconds,
                                             absl::Time now);

// The original dtype a put declares: nullopt if unspecified,
// INVALID_ARGUMENT if unknown.
absl::StatusOr<std::optional<DType>> OriginalDTypeFromProto(v1::DType dtype);

std::vector<int64_t> ShapeFromProto(
    const google::protobuf::RepeatedField<int64_t>& shape);

// What a Create or the header of a Put asks to write, converted.
struct WriteRequest {
  std::string name;  // not yet validated: Store::BeginWrite checks it
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat64;
  Retention retention;
  std::optional<DType> original_dtype;
};

// Converts a CreateRequest or PutHeader received at `now` (the TTL counts
// from it). INVALID_ARGUMENT for an unknown dtype or original dtype, or a
// negative TTL.
template <typename Message>
absl::StatusOr<WriteRequest> WriteRequestFromProto(const Message& message,
                                                   absl::Time now) {
  WriteRequest request;
  request.name = message.name();
  request.shape = ShapeFromProto(message.shape());
  ASSIGN_OR_RETURN(request.dtype, FromProto(message.dtype()));
  ASSIGN_OR_RETURN(request.retention,
                   RetentionFromProto(message.pin(), message.ttl_seconds(), now));
  ASSIGN_OR_RETURN(request.original_dtype,
                   OriginalDTypeFromProto(message.original_dtype()));
  return request;
}

void ToProto(absl::Time time, google::protobuf::Timestamp* proto);
absl::Time FromProto(const google::protobuf::Timestamp& proto);

// INVALID_ARGUMENT if the dtype or the id (16 bytes) is malformed.
absl::StatusOr<MatrixInfo> FromProto(const v1::MatrixInfo& proto);
void ToProto(const MatrixInfo& info, v1::MatrixInfo* proto);
void ToProto(const StoreStats& stats, const std::string& shm_dir,
             v1::StatsResponse* proto);

// An event of a Watch stream. FromProto: INVALID_ARGUMENT for an unknown
// kind or reason, or a malformed info.
void ToProto(const WatchEvent& event, v1::WatchEvent* proto);
absl::StatusOr<WatchEvent> FromProto(const v1::WatchEvent& proto);

}  // namespace matcache

#endif  // MATCACHE_PROTOS_CONVERT_PROTO_CONVERT_H_
