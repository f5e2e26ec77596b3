// MatrixInfo: what the store tells about one published matrix version.
#ifndef MATCACHE_SERVER_CORE_CACHE_MATRIX_INFO_H_
#define MATCACHE_SERVER_CORE_CACHE_MATRIX_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/core/format/dtype.h"
#include "server/core/format/header.h"
#include "server/core/storage/segment.h"

namespace matcache {

struct MatrixInfo {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;  // bytes, C-contiguous
  DType dtype = DType::kFloat64;           // as stored
  DType original_dtype = DType::kFloat64;  // as put
  int64_t nbytes = 0;
  uint64_t generation = 0;
  SegmentId id;
  absl::Time created;
  std::string path;  // absolute path of the segment file
  int64_t data_offset = 0;
  std::string source;
  uint64_t checksum = 0;
  absl::Time last_access;  // set by Store::Info and Store::List
  bool pinned = false;                          // likewise
  absl::Time expires = absl::InfiniteFuture();  // likewise
};

// Describes `segment` from its header and path.
MatrixInfo DescribeSegment(const Segment& segment);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_MATRIX_INFO_H_
