#include "protos/convert/proto_convert.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace matcache {

absl::StatusOr<DType> FromProto(v1::DType dtype) {
  if (dtype == v1::DTYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError("dtype is not set");
  }
  absl::StatusOr<DTypeInfo> info = DTypeFromCode(static_cast<uint32_t>(dtype));
  if (!info.ok()) return info.status();
  return info->dtype;
}

v1::DType ToProto(DType dtype) { return static_cast<v1::DType>(dtype); }

absl::StatusOr<std::vector<Index>> IndicesFromProto(
    const google::protobuf::RepeatedPtrField<v1::Index>& indices) {
  std::vector<Index> result;
  for (int i = 0; i < indices.size(); ++i) {
    const v1::Index& index = indices[i];
    switch (index.kind_case()) {
      case v1::Index::kAt:
        result.push_back(Index::At(index.at()));
        break;
      case v1::Index::kSlice: {
        const v1::Slice& slice = index.slice();
        result.push_back(Index::Slice(
            slice.has_start() ? std::optional<int64_t>(slice.start()) : std::nullopt,
            slice.has_stop() ? std::optional<int64_t>(slice.stop()) : std::nullopt,
            slice.has_step() ? std::optional<int64_t>(slice.step()) : std::nullopt));
        break;
      }
      case v1::Index::KIND_NOT_SET:
        return absl::InvalidArgumentError(absl::StrCat(
            "index ", i, " is neither a position (at) nor a slice"));
    }
  }
  return result;
}

v1::PreviewMethod ToProto(PreviewMethod method) {
  switch (method) {
    case PreviewMethod::kMean:
      return v1::PREVIEW_METHOD_MEAN;
    case PreviewMethod::kMin:
      return v1::PREVIEW_METHOD_MIN;
    case PreviewMethod::kMax:
      return v1::PREVIEW_METHOD_MAX;
    case PreviewMethod::kFirst:
      return v1::PREVIEW_METHOD_FIRST;
  }
  return v1::PREVIEW_METHOD_UNSPECIFIED;
}

absl::StatusOr<PreviewMethod> PreviewMethodFromProto(v1::PreviewMethod method) {
  switch (method) {
    case v1::PREVIEW_METHOD_UNSPECIFIED:
    case v1::PREVIEW_METHOD_MEAN:
      return PreviewMethod::kMean;
    case v1::PREVIEW_METHOD_MIN:
      return PreviewMethod::kMin;
    case v1::PREVIEW_METHOD_MAX:
      return PreviewMethod::kMax;
    case v1::PREVIEW_METHOD_FIRST:
      return PreviewMethod::kFirst;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown preview method ", static_cast<int>(method)));
  }
}

absl::StatusOr<Retention> RetentionFromProto(bool pin, int64_t ttl_seconds,
                                             absl::Time now) {
  if (ttl_seconds < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("ttl_seconds is negative (", ttl_seconds, ")"));
  }
  Retention retention;
  retention.pinned = pin;
  if (ttl_seconds > 0) retention.expires = now + absl::Seconds(ttl_seconds);
  return retention;
}

absl::StatusOr<std::optional<DType>> OriginalDTypeFromProto(v1::DType dtype) {
  if (dtype == v1::DTYPE_UNSPECIFIED) return std::optional<DType>();
  absl::StatusOr<DType> original = FromProto(dtype);
  if (!original.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("original_dtype: ", original.status().message()));
  }
  return std::optional<DType>(*original);
}

std::vector<int64_t> ShapeFromProto(
    const google::protobuf::RepeatedField<int64_t>& shape) {
  return std::vector<int64_t>(shape.begin(), shape.end());
}

void ToProto(absl::Time time, google::protobuf::Timestamp* proto) {
  const int64_t nanos = absl::ToUnixNanos(time);
  proto->set_seconds(nanos / 1000000000);
  proto->set_nanos(static_cast<int32_t>(nanos % 1000000000));
}

absl::Time FromProto(const google::protobuf::Timestamp& proto) {
  return absl::FromUnixSeconds(proto.seconds()) + absl::Nanoseconds(proto.nanos());
}

absl::StatusOr<MatrixInfo> FromProto(const v1::MatrixInfo& proto) {
  MatrixInfo info;
  absl::StatusOr<DType> dtype = FromProto(proto.dtype());
  if (!dtype.ok()) return dtype.status();
  if (proto.id().size() != info.id.bytes.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "matrix id has ", proto.id().size(), " bytes, not ", info.id.bytes.size()));
  }
  info.name = proto.name();
  info.shape = ShapeFromProto(proto.shape());
  info.strides = ShapeFromProto(proto.strides());
  info.dtype = *dtype;
  info.original_dtype = *dtype;
  if (proto.original_dtype() != v1::DTYPE_UNSPECIFIED) {
    absl::StatusOr<DType> original = FromProto(proto.original_dtype());
    if (!original.ok()) return original.status();
    info.original_dtype = *original;
  }
  info.nbytes = proto.nbytes();
  info.generation = proto.generation();
  std::copy(proto.id().begin(), proto.id().end(), info.id.bytes.begin());
  info.created = FromProto(proto.created());
  info.path = proto.path();
  info.data_offset = proto.data_offset();
  info.source = proto.source();
  info.checksum = proto.checksum();
  info.last_access = FromProto(proto.last_access());
  info.pinned = proto.pinned();
  info.expires = proto.has_expires() ? FromProto(proto.expires())
                                     : absl::InfiniteFuture();
  return info;
}

void ToProto(const MatrixInfo& info, v1::MatrixInfo* proto) {
  proto->set_name(info.name);
  proto->mutable_shape()->Assign(info.shape.begin(), info.shape.end());
  proto->set_dtype(ToProto(info.dtype));
  proto->set_original_dtype(ToProto(info.original_dtype));
  proto->set_nbytes(info.nbytes);
  proto->set_generation(info.generation);
  proto->set_id(info.id.bytes.data(), info.id.bytes.size());
  ToProto(info.created, proto->mutable_created());
  proto->set_path(info.path);
  proto->set_data_offset(info.data_offset);
  proto->mutable_strides()->Assign(info.strides.begin(), info.strides.end());
  proto->set_source(info.source);
  proto->set_checksum(info.checksum);
  ToProto(info.last_access, proto->mutable_last_access());
  proto->set_pinned(info.pinned);
  if (info.expires != absl::InfiniteFuture()) {
    ToProto(info.expires, proto->mutable_expires());
  }
}

void ToProto(const StoreStats& stats, const std::string& shm_dir,
             v1::StatsResponse* proto) {
  proto->set_matrix_count(stats.matrix_count);
  proto->set_matrix_bytes(stats.matrix_bytes);
  proto->set_staging_count(stats.staging_count);
  proto->set_staging_bytes(stats.staging_bytes);
  proto->set_shm_dir(shm_dir);
  proto->set_shm_dir_total_bytes(stats.shm_dir_total_bytes);
  proto->set_shm_dir_free_bytes(stats.shm_dir_free_bytes);
  proto->set_quarantined_count(stats.quarantined_count);
  proto->set_max_bytes(stats.max_bytes);
  proto->set_used_bytes(stats.used_bytes);
  proto->set_spare_bytes(stats.spare_bytes);
  proto->set_peak_used_bytes(stats.peak_used_bytes);
  proto->set_spare_pending(stats.spare_pending);
  proto->set_evictions(stats.evictions);
  proto->set_hits(stats.hits);
  proto->set_misses(stats.misses);
  proto->set_expirations(stats.expirations);
  proto->set_loads(stats.loads);
}

namespace {

v1::ChangeReason ToProto(std::optional<ChangeReason> reason) {
  if (!reason.has_value()) return v1::CHANGE_REASON_SNAPSHOT;
  switch (*reason) {
    case ChangeReason::kPut: return v1::CHANGE_REASON_PUT;
    case ChangeReason::kLoad: return v1::CHANGE_REASON_LOAD;
    case ChangeReason::kDelete: return v1::CHANGE_REASON_DELETE;
    case ChangeReason::kEviction: return v1::CHANGE_REASON_EVICTION;
    case ChangeReason::kExpiry: return v1::CHANGE_REASON_EXPIRY;
  }
  return v1::CHANGE_REASON_UNSPECIFIED;
}

}  // namespace

void ToProto(const WatchEvent& event, v1::WatchEvent* proto) {
  switch (event.kind) {
    case WatchEvent::Kind::kPut:
      proto->set_kind(v1::WATCH_EVENT_KIND_PUT);
      ToProto(event.info, proto->mutable_info());
      break;
    case WatchEvent::Kind::kDelete:
      proto->set_kind(v1::WATCH_EVENT_KIND_DELETE);
      break;
    case WatchEvent::Kind::kSnapshotComplete:
      proto->set_kind(v1::WATCH_EVENT_KIND_SNAPSHOT_COMPLETE);
      break;
  }
  if (event.kind != WatchEvent::Kind::kSnapshotComplete) {
    proto->set_reason(ToProto(event.reason));
  }
  proto->set_name(event.name);
  proto->set_generation(event.generation);
  proto->set_sequence(event.sequence);
}

absl::StatusOr<WatchEvent> FromProto(const v1::WatchEvent& proto) {
  WatchEvent event;
  switch (proto.kind()) {
    case v1::WATCH_EVENT_KIND_PUT: {
      event.kind = WatchEvent::Kind::kPut;
      ASSIGN_OR_RETURN(event.info, FromProto(proto.info()));
      break;
    }
    case v1::WATCH_EVENT_KIND_DELETE:
      event.kind = WatchEvent::Kind::kDelete;
      break;
    case v1::WATCH_EVENT_KIND_SNAPSHOT_COMPLETE:
      event.kind = WatchEvent::Kind::kSnapshotComplete;
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown watch event kind ", proto.kind()));
  }
  switch (proto.reason()) {
    case v1::CHANGE_REASON_PUT: event.reason = ChangeReason::kPut; break;
    case v1::CHANGE_REASON_LOAD: event.reason = ChangeReason::kLoad; break;
    case v1::CHANGE_REASON_DELETE: event.reason = ChangeReason::kDelete; break;
    case v1::CHANGE_REASON_EVICTION: event.reason = ChangeReason::kEviction; break;
    case v1::CHANGE_REASON_EXPIRY: event.reason = ChangeReason::kExpiry; break;
    case v1::CHANGE_REASON_SNAPSHOT:
    case v1::CHANGE_REASON_UNSPECIFIED:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown change reason ", proto.reason()));
  }
  event.name = proto.name();
  event.generation = proto.generation();
  event.sequence = proto.sequence();
  return event;
}

}  // namespace matcache
