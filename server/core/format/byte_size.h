// Parsing of human-written byte sizes such as "512M" or "8G".
#ifndef MATCACHE_SERVER_CORE_FORMAT_BYTE_SIZE_H_
#define MATCACHE_SERVER_CORE_FORMAT_BYTE_SIZE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

// A non-negative integer with an optional K, M, G or T suffix (powers of
// 1024, either case). INVALID_ARGUMENT for anything else or an overflow.
absl::StatusOr<int64_t> ParseByteSize(absl::string_view text);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_BYTE_SIZE_H_
