// DescribeSegment: the MatrixInfo of a segment.
#ifndef MATCACHE_SERVER_CORE_CACHE_MATRIX_INFO_H_
#define MATCACHE_SERVER_CORE_CACHE_MATRIX_INFO_H_

#include "matcache/matrix_info.h"
#include "server/core/storage/segment.h"

namespace matcache {

// Describes `segment` from its header and path.
MatrixInfo DescribeSegment(const Segment& segment);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_MATRIX_INFO_H_
