// SegmentId: the random 128-bit identifier of one segment (one matrix
// version), which a client checks in a segment's header before it maps it.
#ifndef MATCACHE_SEGMENT_ID_H_
#define MATCACHE_SEGMENT_ID_H_

#include <array>
#include <cstdint>
#include <string>

namespace matcache {

struct SegmentId {
  std::array<uint8_t, 16> bytes{};

  // 16 bytes from the kernel's random source.
  static SegmentId Random();
  // 32 lowercase hex digits.
  std::string ToHex() const;

  friend bool operator==(const SegmentId& a, const SegmentId& b) {
    return a.bytes == b.bytes;
  }
  friend bool operator!=(const SegmentId& a, const SegmentId& b) {
    return !(a == b);
  }
};

}  // namespace matcache

#endif  // MATCACHE_SEGMENT_ID_H_
