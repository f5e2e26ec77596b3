// The fixed 4 KiB header at the start of every segment file. It makes a
// segment self-describing: recovery and clients need nothing but the file.
//
// On-disk layout (little-endian; offsets in bytes; all other bytes zero):
//     0  char[8]   magic "MATCACHE"
//     8  u32       format version (kFormatVersion)
//    12  u32       state: 1 = staging, 2 = sealed
//    16  u8[16]    id: random 128-bit identifier of this segment
//    32  u64       generation (0 while staging)
//    40  u32       dtype code (DType)
//    44  u32       ndim (0-32)
//    48  u64       data offset (= kHeaderSize)
//    56  u64       data length in bytes
//    64  i64       creation time, nanoseconds since the Unix epoch
//    72  u64       DataChecksum of the data (checksum.h; valid once sealed)
//    80  u64       XXH3-64 of these 4096 bytes with this field zeroed
//    88  u32       name length
//    92  u32       source length
//    96  i64[32]   shape (ndim used)
//   352  i64[32]   byte strides, C-contiguous (ndim used)
//   608  char[256] name (not NUL-terminated)
//   864  char[1024] source (not NUL-terminated)
//  1888  u32       original dtype code: the dtype the matrix was put with,
//                  before it was stored as `dtype`; 0 means the same
#ifndef MATCACHE_SERVER_CORE_FORMAT_HEADER_H_
#define MATCACHE_SERVER_CORE_FORMAT_HEADER_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "matcache/dtype.h"
#include "matcache/segment_id.h"

namespace matcache {

inline constexpr size_t kHeaderSize = 4096;
inline constexpr uint32_t kFormatVersion = 1;
inline constexpr size_t kMaxSourceLength = 1024;

enum class SegmentState : uint32_t { kStaging = 1, kSealed = 2 };

// Decoded header fields. Shape and strides have ndim entries.
struct SegmentHeader {
  SegmentState state = SegmentState::kStaging;
  SegmentId id;
  uint64_t generation = 0;
  DType dtype = DType::kFloat64;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  uint64_t data_offset = kHeaderSize;
  uint64_t data_length = 0;
  int64_t created_unix_nanos = 0;
  uint64_t data_checksum = 0;
  std::string name;
  std::string source;
  // The dtype the matrix was put with; equal to `dtype` unless the put asked
  // to store it as another.
  DType original_dtype = DType::kFloat64;
};

// Returns a staging header for a new matrix with a fresh random id, the
// current time, C strides and the data length. INVALID_ARGUMENT for a bad
// name, shape, or a source longer than kMaxSourceLength.
absl::StatusOr<SegmentHeader> MakeStagingHeader(absl::string_view name,
                                                absl::Span<const int64_t> shape,
                                                DType dtype,
                                                absl::string_view source);

// Writes `header` into `page` (kHeaderSize bytes), including the header
// checksum. `header` must be valid (as returned by MakeStagingHeader).
void EncodeHeader(const SegmentHeader& header, absl::Span<char> page);

// Parses and validates `page`. DATA_LOSS, with a message naming the field,
// for: a short page, wrong magic, unknown version or state, a header
// checksum mismatch, an unknown dtype, ndim > 32, a negative extent or a
// byte-size overflow, strides that are not C-contiguous, a data offset other
// than kHeaderSize, a data length that does not match shape and dtype, an
// invalid name or an over-long source.
absl::StatusOr<SegmentHeader> DecodeHeader(absl::Span<const char> page);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_HEADER_H_
