// Heatmaps of float64 matrices as PNG images.
#ifndef MATCACHE_SERVER_HTTP_PNG_IMAGE_H_
#define MATCACHE_SERVER_HTTP_PNG_IMAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "server/http/colormap.h"

namespace matcache {

// PNG's largest width and height.
inline constexpr int64_t kMaxPngSide = (int64_t{1} << 31) - 1;

// The min and max of the finite values among values[0, n); nullopt if there
// are none.
std::optional<std::pair<double, double>> FiniteRange(const double* values,
                                                     int64_t n);

// INVALID_ARGUMENT, naming the size, unless a PNG may be `rows` x `cols`
// pixels: each side in [1, kMaxPngSide].
absl::Status CheckPngSize(int64_t rows, int64_t cols);

// An 8-bit RGBA PNG of the C-order `rows` x `cols` matrix `values`: `cols`
// pixels wide, row 0 at the top. A finite value v is the colour at table
// index clamp(round((v - vmin) / (vmax - vmin) * 255), 0, 255), or index 0
// for every finite value if vmin == vmax; +Inf is index 255, -Inf index 0,
// all opaque; NaN is transparent black (0, 0, 0, 0).
//
// INVALID_ARGUMENT if rows or cols is not in [1, kMaxPngSide], or vmin or
// vmax is not finite, or vmin > vmax; INTERNAL if libpng fails.
absl::StatusOr<std::string> EncodeHeatmapPng(const double* values, int64_t rows,
                                             int64_t cols, double vmin,
                                             double vmax, Colormap map);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_PNG_IMAGE_H_
