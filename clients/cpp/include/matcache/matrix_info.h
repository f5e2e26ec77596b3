// MatrixInfo: what the server tells about one published matrix version.
#ifndef MATCACHE_MATRIX_INFO_H_
#define MATCACHE_MATRIX_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "matcache/dtype.h"
#include "matcache/segment_id.h"

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

}  // namespace matcache

#endif  // MATCACHE_MATRIX_INFO_H_
