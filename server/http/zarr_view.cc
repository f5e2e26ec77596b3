#include "server/http/zarr_view.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"
#include "server/core/base/status_macros.h"
#include "server/http/matrix_json.h"
#include "server/http/problem.h"
#include "server/http/query_numbers.h"
#include "server/http/zarr_layout.h"

namespace matcache {
namespace {

// What the padding of a chunk is sent from.
constexpr int64_t kZeroBytes = 64 << 10;
constexpr char kZeros[kZeroBytes] = {};

// NAME or NAME@GEN of a path: generation 0 for the current version.
struct MatrixRef {
  absl::string_view name;
  uint64_t generation = 0;
};

absl::StatusOr<MatrixRef> ParseMatrixRef(absl::string_view text) {
  const size_t at = text.find('@');
  if (at == absl::string_view::npos) return MatrixRef{text, 0};
  const absl::string_view digits = text.substr(at + 1);
  absl::StatusOr<int64_t> generation = ParseWholeNumber("generation", digits);
  if (!generation.ok() || *generation == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("in /zarr/", text, ", \"", digits,
                     "\" is not a generation (a positive decimal number)"));
  }
  return MatrixRef{text.substr(0, at), static_cast<uint64_t>(*generation)};
}

// The version `ref` names, read from its source first if need be.
absl::StatusOr<std::shared_ptr<const Segment>> AcquireRef(
    Store* store, const MatrixRef& ref) {
  RETURN_IF_ERROR(store->EnsureLoaded(ref.name));
  absl::StatusOr<std::shared_ptr<const Segment>> segment =
      store->Acquire(ref.name, ref.generation);
  if (absl::IsFailedPrecondition(segment.status())) {
    return absl::NotFoundError(
        absl::StrCat("/zarr/", ref.name, "@", ref.generation,
                     " is no longer current: ", segment.status().message()));
  }
  return segment;
}

nlohmann::json GroupJson() { return {{"zarr_format", 2}}; }

nlohmann::json AttributesJson(absl::string_view name, uint64_t generation,
                              const SegmentId& id) {
  return {{"generation", generation},
          {"id", id.ToHex()},
          {"name", std::string(name)}};
}

HttpResponse ConsolidatedMetadata(const Store& store) {
  nlohmann::json metadata = {{".zgroup", GroupJson()},
                             {".zattrs", nlohmann::json::object()}};
  for (const MatrixInfo& info : store.List("")) {
    if (info.generation == 0) continue;  // a source not read yet
    metadata[info.name + "/.zarray"] =
        ZarrArrayJson(MakeZarrLayout(info.shape, info.dtype));
    metadata[info.name + "/.zattrs"] =
        AttributesJson(info.name, info.generation, info.id);
  }
  return JsonResponse(
      {{"zarr_consolidated_format", 1}, {"metadata", std::move(metadata)}});
}

// A chunk sent straight from the segment's mapping, which the response
// keeps, and its padding from kZeros, as many times as it takes.
HttpResponse ChunkResponse(std::shared_ptr<const SegmentData> data,
                           const ZarrChunk& chunk) {
  HttpResponse response;
  response.content_type = "application/octet-stream";
  response.regions.emplace_back(data->data() + chunk.offset,
                                static_cast<size_t>(chunk.data_bytes));
  for (int64_t left = chunk.padding_bytes; left > 0; left -= kZeroBytes) {
    response.regions.emplace_back(
        kZeros, static_cast<size_t>(std::min(left, kZeroBytes)));
  }
  response.owner = std::move(data);
  return response;
}

// The key `key` of the matrix `matrix` (NAME or NAME@GEN).
absl::StatusOr<HttpResponse> MatrixKey(Store* store, absl::string_view matrix,
                                       absl::string_view key) {
  ASSIGN_OR_RETURN(const MatrixRef ref, ParseMatrixRef(matrix));
  ASSIGN_OR_RETURN(std::shared_ptr<const Segment> segment,
                   AcquireRef(store, ref));
  const SegmentHeader& header = segment->header();
  if (key == ".zattrs") {
    return JsonResponse(
        AttributesJson(header.name, header.generation, header.id));
  }
  const ZarrLayout layout = MakeZarrLayout(header.shape, header.dtype);
  if (key == ".zarray") return JsonResponse(ZarrArrayJson(layout));
  absl::StatusOr<ZarrChunk> chunk = FindZarrChunk(layout, key);
  if (!chunk.ok()) {
    return absl::NotFoundError(
        absl::StrCat("/zarr/", matrix, ": ", chunk.status().message()));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const SegmentData> data, segment->MapData());
  return ChunkResponse(std::move(data), *chunk);
}

absl::StatusOr<HttpResponse> Respond(Store* store, absl::string_view path) {
  if (path == "/.zgroup") return JsonResponse(GroupJson());
  if (path == "/.zattrs") return JsonResponse(nlohmann::json::object());
  if (path == "/.zmetadata") return ConsolidatedMetadata(*store);
  const std::vector<absl::string_view> parts =
      absl::StrSplit(absl::StripPrefix(path, "/"), absl::MaxSplits('/', 1));
  if (parts.size() != 2 || parts[0].empty()) {
    return absl::NotFoundError(absl::StrCat(
        "no Zarr key /zarr", path,
        ": the keys are /zarr/.zgroup, /zarr/.zattrs, "
        "/zarr/.zmetadata, and /zarr/NAME/.zarray, /zarr/NAME/.zattrs and the "
        "chunks /zarr/NAME/I.0... of each matrix"));
  }
  return MatrixKey(store, parts[0], parts[1]);
}

}  // namespace

HttpResponse ZarrResponse(Store* store, absl::string_view path) {
  absl::StatusOr<HttpResponse> response = Respond(store, path);
  return response.ok() ? *std::move(response) : ProblemFor(response.status());
}

}  // namespace matcache
