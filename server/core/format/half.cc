#include "server/core/format/half.h"

#include <cmath>
#include <cstring>

namespace matcache {

double HalfToDouble(Half half) {
  const int sign = half.bits >> 15;
  const int exponent = (half.bits >> 10) & 0x1f;
  const int mantissa = half.bits & 0x3ff;
  double magnitude;
  if (exponent == 0) {
    magnitude = std::ldexp(mantissa, -24);  // zero or subnormal
  } else if (exponent == 0x1f) {
    magnitude = mantissa == 0 ? INFINITY : NAN;
  } else {
    magnitude = std::ldexp(mantissa + 1024, exponent - 25);
  }
  return sign ? -magnitude : magnitude;
}

Half DoubleToHalf(double value) {
  uint64_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  const uint16_t sign = static_cast<uint16_t>((bits >> 48) & 0x8000);
  const double magnitude = std::fabs(value);
  if (std::isnan(value)) return Half{static_cast<uint16_t>(sign | 0x7e00)};
  // Largest half is 65504; values from 65520 on round to infinity.
  if (magnitude >= 65520.0) return Half{static_cast<uint16_t>(sign | 0x7c00)};
  if (magnitude < std::ldexp(1.0, -14)) {
    // Subnormal (or zero): units of 2^-24, rounded half to even.
    const double units = std::nearbyint(std::ldexp(magnitude, 24));
    return Half{static_cast<uint16_t>(sign | static_cast<uint16_t>(units))};
  }
  int exponent;
  const double fraction = std::frexp(magnitude, &exponent);  // [0.5, 1)
  // 11 significant bits, rounded half to even (nearbyint in the default
  // rounding mode); a carry into bit 11 bumps the exponent by itself.
  const uint32_t significand =
      static_cast<uint32_t>(std::nearbyint(std::ldexp(fraction, 11)));
  const uint32_t biased = static_cast<uint32_t>(exponent - 1 + 15);
  const uint32_t half = (biased << 10) + (significand - 1024);
  return Half{static_cast<uint16_t>(sign | half)};
}

}  // namespace matcache
