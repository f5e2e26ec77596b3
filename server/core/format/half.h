// IEEE 754 half precision (numpy float16) conversions.
#ifndef MATCACHE_SERVER_CORE_FORMAT_HALF_H_
#define MATCACHE_SERVER_CORE_FORMAT_HALF_H_

#include <cstdint>

namespace matcache {

// The bits of a float16 element.
struct Half {
  uint16_t bits;
};

// Exact: every half is a double.
double HalfToDouble(Half half);
// Rounds to nearest, ties to even, as numpy does; overflows to infinity,
// keeps NaN a NaN and the sign of zero.
Half DoubleToHalf(double value);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_HALF_H_
