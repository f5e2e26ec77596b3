#include "matcache/dtype.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace matcache {
namespace {

constexpr DTypeInfo kDTypes[] = {
    {DType::kBool, "bool", 1, "|b1"},
    {DType::kInt8, "int8", 1, "|i1"},
    {DType::kInt16, "int16", 2, "<i2"},
    {DType::kInt32, "int32", 4, "<i4"},
    {DType::kInt64, "int64", 8, "<i8"},
    {DType::kUInt8, "uint8", 1, "|u1"},
    {DType::kUInt16, "uint16", 2, "<u2"},
    {DType::kUInt32, "uint32", 4, "<u4"},
    {DType::kUInt64, "uint64", 8, "<u8"},
    {DType::kFloat16, "float16", 2, "<f2"},
    {DType::kFloat32, "float32", 4, "<f4"},
    {DType::kFloat64, "float64", 8, "<f8"},
    {DType::kComplex64, "complex64", 8, "<c8"},
    {DType::kComplex128, "complex128", 16, "<c16"},
};

}  // namespace

absl::Span<const DTypeInfo> AllDTypes() { return kDTypes; }

absl::StatusOr<DTypeInfo> DTypeFromCode(uint32_t code) {
  for (const DTypeInfo& info : kDTypes) {
    if (static_cast<uint32_t>(info.dtype) == code) return info;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported dtype code ", code));
}

absl::StatusOr<DTypeInfo> DTypeFromName(absl::string_view name) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.name == name || info.numpy_str == name) return info;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported dtype \"", absl::CEscape(name),
      "\"; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128"));
}

const DTypeInfo& GetDTypeInfo(DType dtype) {
  for (const DTypeInfo& info : kDTypes) {
    if (info.dtype == dtype) return info;
  }
  std::abort();  // Only reachable with a value cast from an unchecked code.
}

}  // namespace matcache
