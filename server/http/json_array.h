// Matrix elements as JSON text: nested lists in C order, the way
// numpy's tolist() nests them, numbers in their shortest round-trip form.
#ifndef MATCACHE_SERVER_HTTP_JSON_ARRAY_H_
#define MATCACHE_SERVER_HTTP_JSON_ARRAY_H_

#include <cstdint>
#include <string>

#include "absl/types/span.h"
#include "matcache/dtype.h"

namespace matcache {

// Appends product(shape) elements of `dtype` at `data` (C order,
// little-endian) to `out`: a nested list per dimension (a bare value for
// shape []), true/false for bools, null for NaN and infinities, [re, im]
// for complex numbers.
void AppendJsonArray(DType dtype, absl::Span<const int64_t> shape,
                     const char* data, std::string* out);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_JSON_ARRAY_H_
