#include "server/core/array/cast.h"

#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <type_traits>

#include "server/core/format/half.h"

namespace matcache {
namespace {

template <typename T>
struct IsComplex : std::false_type {};
template <typename T>
struct IsComplex<std::complex<T>> : std::true_type {};

// Floating-point value to integer type `To`: truncation toward zero, with
// wrap-around through int64 (what numpy does on x86-64 within int64's range);
// NaN and values beyond int64 give INT64_MIN's bits instead of undefined
// behaviour.
template <typename To>
To FloatToInteger(double value) {
  if constexpr (std::is_same_v<To, uint64_t>) {
    if (value >= 0 && value < 18446744073709551616.0) {
      return static_cast<uint64_t>(value);
    }
  }
  if (!(value >= -9223372036854775808.0 && value < 9223372036854775808.0)) {
    return static_cast<To>(std::numeric_limits<int64_t>::min());
  }
  return static_cast<To>(static_cast<int64_t>(value));
}

// One real value to a real type.
template <typename To, typename From>
To ConvertReal(From value) {
  if constexpr (std::is_same_v<From, Half>) {
    return ConvertReal<To>(HalfToDouble(value));
  } else if constexpr (std::is_same_v<To, Half>) {
    if constexpr (std::is_same_v<From, bool>) return DoubleToHalf(value ? 1.0 : 0.0);
    else return DoubleToHalf(static_cast<double>(value));
  } else if constexpr (std::is_same_v<To, bool>) {
    return value != From(0);
  } else if constexpr (std::is_integral_v<To> && std::is_floating_point_v<From>) {
    return FloatToInteger<To>(static_cast<double>(value));
  } else {
    return static_cast<To>(value);
  }
}

template <typename To, typename From>
To Convert(From value) {
  if constexpr (IsComplex<From>::value && IsComplex<To>::value) {
    using C = typename To::value_type;
    return To(static_cast<C>(value.real()), static_cast<C>(value.imag()));
  } else if constexpr (IsComplex<From>::value) {
    if constexpr (std::is_same_v<To, bool>) {
      return value.real() != 0 || value.imag() != 0;
    } else {
      return ConvertReal<To>(value.real());
    }
  } else if constexpr (IsComplex<To>::value) {
    using C = typename To::value_type;
    return To(ConvertReal<C>(value), C(0));
  } else {
    return ConvertReal<To>(value);
  }
}

template <typename To, typename From>
void CastLoop(const char* in, char* out, int64_t count) {
  for (int64_t i = 0; i < count; ++i) {
    From value;
    std::memcpy(&value, in + i * sizeof(From), sizeof(From));
    if constexpr (std::is_same_v<From, bool>) {
      // A stored bool byte may be any non-zero value; numpy reads it as true.
      value = *reinterpret_cast<const unsigned char*>(in + i) != 0;
    }
    const To converted = Convert<To>(value);
    std::memcpy(out + i * sizeof(To), &converted, sizeof(To));
  }
}

// Calls `f` with a value of the C++ element type of `dtype`.
template <typename F>
void VisitDType(DType dtype, F&& f) {
  switch (dtype) {
    case DType::kBool: return f(bool{});
    case DType::kInt8: return f(int8_t{});
    case DType::kInt16: return f(int16_t{});
    case DType::kInt32: return f(int32_t{});
    case DType::kInt64: return f(int64_t{});
    case DType::kUInt8: return f(uint8_t{});
    case DType::kUInt16: return f(uint16_t{});
    case DType::kUInt32: return f(uint32_t{});
    case DType::kUInt64: return f(uint64_t{});
    case DType::kFloat16: return f(Half{});
    case DType::kFloat32: return f(float{});
    case DType::kFloat64: return f(double{});
    case DType::kComplex64: return f(std::complex<float>{});
    case DType::kComplex128: return f(std::complex<double>{});
  }
}

}  // namespace

void CastElements(DType from, DType to, const char* in, char* out,
                  int64_t count) {
  if (from == to) {
    std::memcpy(out, in, count * GetDTypeInfo(from).item_size);
    return;
  }
  VisitDType(from, [&](auto from_value) {
    VisitDType(to, [&](auto to_value) {
      CastLoop<decltype(to_value), decltype(from_value)>(in, out, count);
    });
  });
}

}  // namespace matcache
