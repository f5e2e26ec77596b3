// Parsers for the numbers and flags in query parameters. Each is strict (no
// signs, spaces or trailing characters it does not name) and its errors are
// INVALID_ARGUMENT naming the parameter and quoting the value.
#ifndef MATCACHE_SERVER_HTTP_QUERY_NUMBERS_H_
#define MATCACHE_SERVER_HTTP_QUERY_NUMBERS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Most dimensions and largest extent of a preview shape.
inline constexpr size_t kMaxPreviewShapeDims = 32;
inline constexpr int64_t kMaxPreviewExtent = int64_t{1} << 31;

// One or more decimal digits, at most INT64_MAX.
absl::StatusOr<int64_t> ParseWholeNumber(absl::string_view name,
                                         absl::string_view text);

// A decimal number: an optional '-', digits with an optional '.', an
// optional exponent ("-1.5", ".5", "2e-3"). No '+', hex, "nan" or "inf";
// magnitudes beyond double's range either way ("1e400", "1e-400") are errors.
absl::StatusOr<double> ParseFiniteDouble(absl::string_view name,
                                         absl::string_view text);

// "1" or "true" (true), "0" or "false" (false).
absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view text);

// The target shape of a preview: "R", "RxC", "RxCxD", ...: 1 to
// kMaxPreviewShapeDims extents of 1 to kMaxPreviewExtent, each decimal digits
// only, separated by a lowercase 'x'. Errors name the parameter "shape".
absl::StatusOr<std::vector<int64_t>> ParsePreviewShape(absl::string_view text);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_QUERY_NUMBERS_H_
