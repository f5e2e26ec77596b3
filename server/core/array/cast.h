// Element type conversion with numpy's astype semantics (casting="unsafe"):
// integers wrap, floats truncate toward zero when converted to integers,
// complex numbers drop their imaginary part when converted to real types,
// anything non-zero becomes true. Converting a NaN or an out-of-range float
// to an integer gives an unspecified value, as it does in numpy.
#ifndef MATCACHE_SERVER_CORE_ARRAY_CAST_H_
#define MATCACHE_SERVER_CORE_ARRAY_CAST_H_

#include <cstdint>

#include "matcache/dtype.h"

namespace matcache {

// Converts `count` elements of `from` at `in` to `to` at `out`. The buffers
// must not overlap; neither needs alignment.
void CastElements(DType from, DType to, const char* in, char* out,
                  int64_t count);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ARRAY_CAST_H_
