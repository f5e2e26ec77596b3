// The .npy file format (numpy's format.py, versions 1.0, 2.0 and 3.0):
// parsing headers, converting data to matcache's layout (C order,
// little-endian), and writing headers for C-ordered little-endian data.
#ifndef MATCACHE_SERVER_CORE_FORMAT_NPY_H_
#define MATCACHE_SERVER_CORE_FORMAT_NPY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "matcache/dtype.h"

namespace matcache {

struct NpyHeader {
  DType dtype = DType::kFloat64;
  bool big_endian = false;
  bool fortran_order = false;
  std::vector<int64_t> shape;
  int64_t data_offset = 0;  // where the data starts in the file
  int64_t data_bytes = 0;   // product(shape) * item size
};

// True if the data is already in matcache's layout, C order and
// little-endian, so that it can be stored byte for byte.
inline bool InMatcacheLayout(const NpyHeader& header) {
  return !header.big_endian && (!header.fortran_order || header.shape.size() <= 1);
}

// Bytes a reader needs before ParseNpyHeader can succeed: enough to read
// the preamble (magic, version, header length) is 12.
inline constexpr size_t kNpyPreambleBytes = 12;

// The total header size (preamble plus dictionary) announced by `preamble`
// (at least kNpyPreambleBytes bytes). INVALID_ARGUMENT if it is not an
// .npy preamble.
absl::StatusOr<int64_t> NpyHeaderSize(absl::string_view preamble);

// Parses a complete header (NpyHeaderSize bytes, or more). INVALID_ARGUMENT,
// naming the problem, for a bad magic, an unknown version, a malformed
// dictionary, a dtype matcache does not store (structured, object, string,
// datetime, ...), a negative or overflowing shape.
absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view header);

// A version 1.0 header (2.0 if the dictionary needs it) for C-ordered
// little-endian data of `dtype` and `shape`, padded to 64 bytes.
std::string NpyHeaderFor(DType dtype, absl::Span<const int64_t> shape);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_NPY_H_
