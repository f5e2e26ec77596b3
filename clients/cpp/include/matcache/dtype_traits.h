// DTypeOf<T>(): the matcache dtype of a C++ element type, for typed views and
// for putting xtensor expressions. float16 has no C++ type here: read it
// through the raw bytes.
#ifndef MATCACHE_DTYPE_TRAITS_H_
#define MATCACHE_DTYPE_TRAITS_H_

#include <complex>
#include <cstdint>
#include <type_traits>

#include "matcache/dtype.h"

namespace matcache {

template <typename T>
constexpr DType DTypeOf() {
  using U = std::remove_cv_t<T>;
  if constexpr (std::is_same_v<U, bool>) return DType::kBool;
  else if constexpr (std::is_same_v<U, int8_t>) return DType::kInt8;
  else if constexpr (std::is_same_v<U, int16_t>) return DType::kInt16;
  else if constexpr (std::is_same_v<U, int32_t>) return DType::kInt32;
  else if constexpr (std::is_same_v<U, int64_t>) return DType::kInt64;
  else if constexpr (std::is_same_v<U, uint8_t>) return DType::kUInt8;
  else if constexpr (std::is_same_v<U, uint16_t>) return DType::kUInt16;
  else if constexpr (std::is_same_v<U, uint32_t>) return DType::kUInt32;
  else if constexpr (std::is_same_v<U, uint64_t>) return DType::kUInt64;
  else if constexpr (std::is_same_v<U, float>) return DType::kFloat32;
  else if constexpr (std::is_same_v<U, double>) return DType::kFloat64;
  else if constexpr (std::is_same_v<U, std::complex<float>>) return DType::kComplex64;
  else if constexpr (std::is_same_v<U, std::complex<double>>) return DType::kComplex128;
  else static_assert(sizeof(T) == 0, "no matcache dtype for this element type");
}

}  // namespace matcache

#endif  // MATCACHE_DTYPE_TRAITS_H_
