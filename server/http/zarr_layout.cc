#include "server/http/zarr_layout.h"

#include <algorithm>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/http/query_numbers.h"

namespace matcache {
namespace {

// The decimal `text` without leading zeros, or -1.
int64_t ParseIndex(absl::string_view text) {
  absl::StatusOr<int64_t> index = ParseWholeNumber("chunk index", text);
  return index.ok() && (text.size() == 1 || text[0] != '0') ? *index : -1;
}

// The key of chunk `i` along dimension 0.
std::string ChunkKey(const ZarrLayout& layout, int64_t i) {
  std::string key = absl::StrCat(i);
  for (size_t d = 1; d < layout.shape.size(); ++d) key += ".0";
  return key;
}

// Zero as fill_value spells it for numpy's dtype kind `kind` (b, i, u, f, c).
nlohmann::json ZeroFillValue(char kind) {
  switch (kind) {
    case 'b':
      return false;
    case 'f':
      return 0.0;
    case 'c':
      return nlohmann::json::array({0.0, 0.0});
    default:
      return 0;
  }
}

}  // namespace

ZarrLayout MakeZarrLayout(absl::Span<const int64_t> shape, DType dtype) {
  ZarrLayout layout;
  layout.shape.assign(shape.begin(), shape.end());
  layout.dtype = dtype;
  layout.row_bytes = GetDTypeInfo(dtype).item_size;
  if (shape.empty()) {
    layout.chunk_bytes = layout.row_bytes;
    layout.chunk_count = 1;
    return layout;
  }
  for (size_t d = 1; d < shape.size(); ++d) layout.row_bytes *= shape[d];
  const int64_t rows = layout.row_bytes == 0
                           ? shape[0]
                           : kZarrChunkTargetBytes / layout.row_bytes;
  const int64_t rows_per_chunk = std::max<int64_t>(1, std::min(rows, shape[0]));
  layout.chunks.push_back(rows_per_chunk);
  for (size_t d = 1; d < shape.size(); ++d) {
    layout.chunks.push_back(std::max<int64_t>(1, shape[d]));
  }
  layout.chunk_bytes = rows_per_chunk * layout.row_bytes;
  layout.chunk_count = layout.row_bytes == 0
                           ? 0
                           : (shape[0] + rows_per_chunk - 1) / rows_per_chunk;
  return layout;
}

absl::StatusOr<ZarrChunk> FindZarrChunk(const ZarrLayout& layout,
                                        absl::string_view key) {
  const std::vector<absl::string_view> parts = absl::StrSplit(key, '.');
  bool found = parts.size() == std::max<size_t>(1, layout.shape.size());
  const int64_t i = ParseIndex(parts[0]);
  found = found && i >= 0 && i < layout.chunk_count;
  for (size_t d = 1; found && d < parts.size(); ++d) found = parts[d] == "0";
  if (!found) {
    if (layout.chunk_count == 0) {
      return absl::NotFoundError(
          absl::StrCat("no chunk ", key, ": the array has no elements"));
    }
    return absl::NotFoundError(absl::StrCat(
        "no chunk ", key, ": the chunk keys are ", ChunkKey(layout, 0), " to ",
        ChunkKey(layout, layout.chunk_count - 1)));
  }
  const int64_t data_length = layout.shape.empty()
                                  ? layout.row_bytes
                                  : layout.shape[0] * layout.row_bytes;
  ZarrChunk chunk;
  chunk.offset = i * layout.chunk_bytes;
  chunk.data_bytes = std::min(layout.chunk_bytes, data_length - chunk.offset);
  chunk.padding_bytes = layout.chunk_bytes - chunk.data_bytes;
  return chunk;
}

nlohmann::json ZarrArrayJson(const ZarrLayout& layout) {
  const DTypeInfo& info = GetDTypeInfo(layout.dtype);
  return {
      {"zarr_format", 2},
      {"shape", layout.shape},
      {"chunks", layout.chunks},
      {"dtype", std::string(info.numpy_str)},
      {"compressor", nullptr},
      {"filters", nullptr},
      {"order", "C"},
      {"fill_value", ZeroFillValue(info.numpy_str[1])},
      {"dimension_separator", "."},
  };
}

}  // namespace matcache
