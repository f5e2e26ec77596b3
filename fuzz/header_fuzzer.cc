// Fuzzes the decoding of segment headers, which recovery reads from every
// file in the shm directory. The input is decoded as it is, then as a page
// (zero-padded to kHeaderSize) with a correct header checksum, so that the
// field checks behind the checksum are reached. A header that decodes must
// encode and decode back to the same fields.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "fuzz/fuzz_checks.h"
#include "server/core/format/checksum.h"
#include "server/core/format/header.h"

namespace {

using matcache_fuzz::Check;

// Where the header checksum sits (see the layout in header.h).
constexpr size_t kHeaderChecksumOffset = 80;

bool SameFields(const matcache::SegmentHeader& a,
                const matcache::SegmentHeader& b) {
  return a.state == b.state && a.id == b.id && a.generation == b.generation &&
         a.dtype == b.dtype && a.shape == b.shape && a.strides == b.strides &&
         a.data_offset == b.data_offset && a.data_length == b.data_length &&
         a.created_unix_nanos == b.created_unix_nanos &&
         a.data_checksum == b.data_checksum && a.name == b.name &&
         a.source == b.source && a.original_dtype == b.original_dtype;
}

void CheckRoundTrip(const matcache::SegmentHeader& header) {
  std::vector<char> page(matcache::kHeaderSize);
  matcache::EncodeHeader(header, absl::MakeSpan(page));
  absl::StatusOr<matcache::SegmentHeader> again = matcache::DecodeHeader(page);
  Check(again.ok() && SameFields(header, *again));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  absl::StatusOr<matcache::SegmentHeader> raw =
      matcache::DecodeHeader(absl::MakeConstSpan(bytes, size));
  if (raw.ok()) CheckRoundTrip(*raw);

  std::vector<char> page(matcache::kHeaderSize, '\0');
  std::memcpy(page.data(), bytes, std::min(size, page.size()));
  std::memset(page.data() + kHeaderChecksumOffset, 0, sizeof(uint64_t));
  const uint64_t checksum = matcache::Checksum(page.data(), page.size());
  std::memcpy(page.data() + kHeaderChecksumOffset, &checksum, sizeof(checksum));
  absl::StatusOr<matcache::SegmentHeader> fixed = matcache::DecodeHeader(page);
  if (fixed.ok()) CheckRoundTrip(*fixed);
  return 0;
}
