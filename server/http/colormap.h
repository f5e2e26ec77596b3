// Colormaps for heatmaps: 256-entry RGB tables, entry 0 for the low end.
#ifndef MATCACHE_SERVER_HTTP_COLORMAP_H_
#define MATCACHE_SERVER_HTTP_COLORMAP_H_

#include <array>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

enum class Colormap { kViridis, kMagma, kGray };

struct Rgb {
  uint8_t r;
  uint8_t g;
  uint8_t b;
};

using ColormapTable = std::array<Rgb, 256>;

// "viridis", "magma" or "gray"; INVALID_ARGUMENT listing those otherwise.
absl::StatusOr<Colormap> ParseColormap(absl::string_view name);

// The table of `map`. gray maps i to (i, i, i).
const ColormapTable& ColormapColors(Colormap map);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_COLORMAP_H_
