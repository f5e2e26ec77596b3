#include "server/core/cache/matrix_info.h"

namespace matcache {

MatrixInfo DescribeSegment(const Segment& segment) {
  const SegmentHeader& header = segment.header();
  MatrixInfo info;
  info.name = header.name;
  info.shape = header.shape;
  info.strides = header.strides;
  info.dtype = header.dtype;
  info.original_dtype = header.original_dtype;
  info.nbytes = static_cast<int64_t>(header.data_length);
  info.generation = header.generation;
  info.id = header.id;
  info.created = absl::FromUnixNanos(header.created_unix_nanos);
  info.path = segment.path();
  info.data_offset = static_cast<int64_t>(header.data_offset);
  info.source = header.source;
  info.checksum = header.data_checksum;
  return info;
}

}  // namespace matcache
