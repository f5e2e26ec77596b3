// How the Zarr v2 view lays a matrix out: uncompressed C-order chunks of
// whole rows (dimension 0 only), each close to kZarrChunkTargetBytes, the
// last one padded with zeros to a full chunk as the format requires. Pure
// arithmetic on a shape and a dtype: no store, no HTTP.
#ifndef MATCACHE_SERVER_HTTP_ZARR_LAYOUT_H_
#define MATCACHE_SERVER_HTTP_ZARR_LAYOUT_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "nlohmann/json.hpp"
#include "matcache/dtype.h"

namespace matcache {

// Most bytes of a chunk of several rows; a row larger than this is a chunk
// of its own.
inline constexpr int64_t kZarrChunkTargetBytes = int64_t{16} << 20;

struct ZarrLayout {
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat64;
  // [rows_per_chunk, shape[1], ...], every extent at least 1; [] for a 0-d
  // matrix.
  std::vector<int64_t> chunks;
  int64_t row_bytes = 0;    // of one index of dimension 0 (0-d: the element)
  int64_t chunk_bytes = 0;  // of every chunk, the last one padded
  // Chunks along dimension 0 (1 for a 0-d matrix, 0 if it has no elements).
  int64_t chunk_count = 0;
};

// Where the bytes of one chunk are: `data_bytes` of the matrix's data from
// `offset`, then `padding_bytes` zero bytes.
struct ZarrChunk {
  int64_t offset = 0;
  int64_t data_bytes = 0;
  int64_t padding_bytes = 0;
};

// The layout of a matrix of `shape` (valid for `dtype`, as in a segment
// header) and `dtype`.
ZarrLayout MakeZarrLayout(absl::Span<const int64_t> shape, DType dtype);

// The chunk of the key `key`: "i.0.0..." with one index per dimension
// ("0" for a 0-d matrix), each in decimal without leading zeros. NOT_FOUND
// for a malformed key and for one outside the chunk grid (a non-zero index
// past dimension 0, or i >= chunk_count).
absl::StatusOr<ZarrChunk> FindZarrChunk(const ZarrLayout& layout,
                                        absl::string_view key);

// The .zarray metadata: zarr_format 2, shape, chunks, dtype (numpy
// typestr), no compressor or filters, order "C", dimension separator ".",
// and fill_value 0 (false for bool, [0.0, 0.0] for complex).
nlohmann::json ZarrArrayJson(const ZarrLayout& layout);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_ZARR_LAYOUT_H_
