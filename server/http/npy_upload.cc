#include "server/http/npy_upload.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/name.h"
#include "server/core/format/npy.h"
#include "server/http/matrix_json.h"
#include "server/http/problem.h"
#include "server/http/query_numbers.h"
#include "server/http/query_params.h"

namespace matcache {
namespace {

// Largest .npy header accepted; numpy writes at most a few hundred bytes.
constexpr int64_t kMaxHeaderBytes = 64 << 10;

}  // namespace

absl::StatusOr<std::unique_ptr<HttpUpload>> NpyUpload::Start(
    Store* store, absl::string_view name, const HttpRequest& request) {
  RETURN_IF_ERROR(ValidateName(name));
  QueryParams params(request.query);
  Retention retention;
  if (std::optional<std::string> pin = params.Take("pin")) {
    ASSIGN_OR_RETURN(retention.pinned, ParseBool("pin", *pin));
  }
  if (std::optional<std::string> ttl = params.Take("ttl")) {
    ASSIGN_OR_RETURN(const int64_t seconds, ParseWholeNumber("ttl", *ttl));
    if (seconds > 0) retention.expires = absl::Now() + absl::Seconds(seconds);
  }
  std::optional<DType> store_dtype;
  if (std::optional<std::string> dtype = params.Take("store_dtype")) {
    ASSIGN_OR_RETURN(const DTypeInfo info, DTypeFromName(*dtype));
    store_dtype = info.dtype;
  }
  RETURN_IF_ERROR(params.CheckAllTaken("pin, ttl, store_dtype"));
  std::optional<int64_t> content_length;
  if (request.content_length.has_value()) {
    ASSIGN_OR_RETURN(content_length,
                     ParseWholeNumber("Content-Length", *request.content_length));
  }
  return std::unique_ptr<HttpUpload>(new NpyUpload(
      store, std::string(name), retention, store_dtype, content_length));
}

NpyUpload::~NpyUpload() { AbortWrite(); }

void NpyUpload::AbortWrite() {
  if (!write_.has_value()) return;
  if (absl::Status aborted = store_->Abort(write_->write_id);
      !aborted.ok() && !absl::IsNotFound(aborted)) {
    LogWarning("PUT %s: %s", name_, aborted.message());
  }
  write_.reset();
}

HttpResponse NpyUpload::Fail(const absl::Status& status) {
  AbortWrite();
  return ProblemFor(status);
}

std::optional<HttpResponse> NpyUpload::Receive(absl::string_view data) {
  if (!expected_bytes_.has_value()) {
    const absl::string_view taken =
        data.substr(0, static_cast<size_t>(kMaxHeaderBytes) - header_bytes_.size());
    header_bytes_.append(taken.data(), taken.size());
    data.remove_prefix(taken.size());
    if (absl::Status begun = BeginOnceHeaderRead(); !begun.ok()) return Fail(begun);
    if (!expected_bytes_.has_value()) return std::nullopt;  // the header goes on
    // What came after the header in the pieces read so far is data.
    const std::string early = std::move(header_bytes_);
    if (std::optional<HttpResponse> refused = WriteData(early)) return refused;
  }
  return WriteData(data);
}

std::optional<HttpResponse> NpyUpload::WriteData(absl::string_view data) {
  if (static_cast<int64_t>(data.size()) > *expected_bytes_ - received_bytes_) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "the body is longer than the ", *expected_bytes_,
        " data bytes its .npy header announces; nothing published")));
  }
  received_bytes_ += static_cast<int64_t>(data.size());
  if (converter_.has_value()) {
    converter_->Write(data.data(), data.size());
  } else if (absl::Status appended = write_->segment->AppendData(data);
             !appended.ok()) {
    return Fail(appended);
  }
  return std::nullopt;
}

absl::Status NpyUpload::BeginOnceHeaderRead() {
  if (header_bytes_.size() < kNpyPreambleBytes) return absl::OkStatus();
  ASSIGN_OR_RETURN(const int64_t header_size, NpyHeaderSize(header_bytes_));
  if (header_size > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the .npy header announces ", header_size, " bytes; at most ",
        kMaxHeaderBytes, " are accepted"));
  }
  if (static_cast<int64_t>(header_bytes_.size()) < header_size) {
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const NpyHeader header, ParseNpyHeader(header_bytes_));
  if (content_length_.has_value() &&
      *content_length_ != header_size + header.data_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Content-Length is ", *content_length_, " but the .npy header announces ",
        header_size, " header bytes and ", header.data_bytes, " data bytes (",
        header_size + header.data_bytes, " in all); nothing published"));
  }
  const DType stored = store_dtype_.value_or(header.dtype);
  std::optional<DType> original;
  if (stored != header.dtype) original = header.dtype;
  ASSIGN_OR_RETURN(StagingWrite write,
                   store_->BeginWrite(name_, header.shape, stored,
                                      Segment::Prefault::kYes,
                                      absl::InfiniteFuture(), retention_, original));
  write_ = std::move(write);
  if (stored != header.dtype || !InMatcacheLayout(header)) {
    converter_.emplace(header, stored, write_->segment->mutable_data());
  }
  expected_bytes_ = header.data_bytes;
  header_bytes_.erase(0, static_cast<size_t>(header_size));
  return absl::OkStatus();
}

HttpResponse NpyUpload::Finish() {
  if (!expected_bytes_.has_value()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "the body ended after ", header_bytes_.size(),
        " bytes, inside its .npy header; nothing published")));
  }
  if (received_bytes_ != *expected_bytes_) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "the body ended after ", received_bytes_, " of the ",
        *expected_bytes_, " data bytes its .npy header announces; ",
        "nothing published")));
  }
  std::shared_ptr<const Segment> replaced;
  absl::StatusOr<MatrixInfo> info = store_->Commit(write_->write_id, &replaced);
  write_.reset();  // committed, or discarded by the failed commit
  if (!info.ok()) return ProblemFor(info.status());
  HttpResponse response = JsonResponse(MatrixInfoJson(*info));
  response.status = replaced != nullptr ? 200 : 201;
  return response;
}

}  // namespace matcache
