// Element types of matrices and their numpy equivalents: the vocabulary of
// the client API, shared with the server (the codes are those of segment
// headers and of matcache.v1.DType).
#ifndef MATCACHE_DTYPE_H_
#define MATCACHE_DTYPE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace matcache {

// The numeric codes are stored in segment headers and equal the values of
// matcache.v1.DType: never renumber them.
enum class DType : uint32_t {
  kBool = 1,
  kInt8 = 2,
  kInt16 = 3,
  kInt32 = 4,
  kInt64 = 5,
  kUInt8 = 6,
  kUInt16 = 7,
  kUInt32 = 8,
  kUInt64 = 9,
  kFloat16 = 10,
  kFloat32 = 11,
  kFloat64 = 12,
  kComplex64 = 13,
  kComplex128 = 14,
};

struct DTypeInfo {
  DType dtype;
  absl::string_view name;       // numpy name, e.g. "float64"
  int64_t item_size;            // bytes per element
  absl::string_view numpy_str;  // numpy dtype.str, e.g. "<f8"
};

// Every supported dtype, in code order.
absl::Span<const DTypeInfo> AllDTypes();

// Returns the table entry of `dtype`, or INVALID_ARGUMENT naming the code if
// `code` is not a supported dtype.
absl::StatusOr<DTypeInfo> DTypeFromCode(uint32_t code);

// Accepts a numpy name ("float64") or a numpy dtype.str ("<f8", "|b1").
// Anything else is INVALID_ARGUMENT.
absl::StatusOr<DTypeInfo> DTypeFromName(absl::string_view name);

// The table entry of a valid enum value.
const DTypeInfo& GetDTypeInfo(DType dtype);

}  // namespace matcache

#endif  // MATCACHE_DTYPE_H_
