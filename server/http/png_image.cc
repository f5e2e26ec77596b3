#include "server/http/png_image.h"

#include <png.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace matcache {
namespace {

// What the libpng callbacks share. Nothing here is built or destroyed while
// a longjmp may cross it.
struct PngSink {
  std::string out;
  char error[200] = {};  // libpng's message, if it failed
};

[[noreturn]] void OnError(png_structp png, png_const_charp message) {
  auto* sink = static_cast<PngSink*>(png_get_error_ptr(png));
  std::snprintf(sink->error, sizeof(sink->error), "%s", message);
  png_longjmp(png, 1);
}

void OnWarning(png_structp, png_const_charp) {}

void OnWrite(png_structp png, png_bytep data, png_size_t length) {
  auto* sink = static_cast<PngSink*>(png_get_io_ptr(png));
  bool appended = true;
  try {
    sink->out.append(reinterpret_cast<const char*>(data), length);
  } catch (const std::bad_alloc&) {
    appended = false;
  }
  // Outside the handler: png_error longjmps.
  if (!appended) png_error(png, "out of memory for the PNG");
}

void OnFlush(png_structp) {}

// Maps values to table indices as EncodeHeatmapPng says. Halving each term
// keeps the differences finite for any finite vmin and vmax, and is exact
// for all but subnormal values.
class Scale {
 public:
  Scale(double vmin, double vmax)
      : low_(vmin / 2), span_(vmax / 2 - vmin / 2) {}

  int TableIndex(double v) const {
    if (std::isinf(v)) return v > 0 ? 255 : 0;
    if (span_ == 0) return 0;
    const double t = std::round((v / 2 - low_) / span_ * 255);
    return static_cast<int>(std::clamp(t, 0.0, 255.0));
  }

 private:
  double low_;
  double span_;
};

void FillRow(const double* values, int64_t cols, const Scale& scale,
             const ColormapTable& table, png_bytep row) {
  for (int64_t c = 0; c < cols; ++c, row += 4) {
    const double v = values[c];
    if (std::isnan(v)) {
      std::memset(row, 0, 4);
      continue;
    }
    const Rgb& rgb = table[scale.TableIndex(v)];
    row[0] = rgb.r;
    row[1] = rgb.g;
    row[2] = rgb.b;
    row[3] = 255;
  }
}

// Writes the whole image; false if libpng failed (its message is in the
// sink). The setjmp target: this frame holds nothing with a destructor.
bool WriteImage(png_structp png, png_infop info, const double* values,
                int64_t rows, int64_t cols, const Scale& scale,
                const ColormapTable& table, png_bytep row) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_user_limits(png, PNG_UINT_31_MAX, PNG_UINT_31_MAX);
  png_set_IHDR(png, info, static_cast<png_uint_32>(cols),
               static_cast<png_uint_32>(rows), 8, PNG_COLOR_TYPE_RGB_ALPHA,
               PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int64_t r = 0; r < rows; ++r) {
    FillRow(values + r * cols, cols, scale, table, row);
    png_write_row(png, row);
  }
  png_write_end(png, nullptr);
  return true;
}

}  // namespace

std::optional<std::pair<double, double>> FiniteRange(const double* values,
                                                     int64_t n) {
  std::optional<std::pair<double, double>> range;
  for (int64_t i = 0; i < n; ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) continue;
    if (!range.has_value()) {
      range.emplace(v, v);
    } else {
      range->first = std::min(range->first, v);
      range->second = std::max(range->second, v);
    }
  }
  return range;
}

absl::Status CheckPngSize(int64_t rows, int64_t cols) {
  if (rows < 1 || rows > kMaxPngSide || cols < 1 || cols > kMaxPngSide) {
    return absl::InvalidArgumentError(
        absl::StrCat("a PNG of ", rows, "x", cols,
                     " pixels: each side must be 1 to ", kMaxPngSide));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeHeatmapPng(const double* values, int64_t rows,
                                             int64_t cols, double vmin,
                                             double vmax, Colormap map) {
  if (absl::Status size = CheckPngSize(rows, cols); !size.ok()) return size;
  if (!std::isfinite(vmin) || !std::isfinite(vmax) || vmin > vmax) {
    return absl::InvalidArgumentError(
        absl::StrCat("colour range [", vmin, ", ", vmax,
                     "]: bounds must be finite with vmin <= vmax"));
  }

  PngSink sink;
  png_structp png =
      png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, OnError, OnWarning);
  if (png == nullptr) {
    return absl::InternalError("png_create_write_struct failed");
  }
  png_infop info = png_create_info_struct(png);
  if (info == nullptr) {
    png_destroy_write_struct(&png, nullptr);
    return absl::InternalError("png_create_info_struct failed");
  }
  png_set_write_fn(png, &sink, OnWrite, OnFlush);
  std::vector<png_byte> row(static_cast<size_t>(cols) * 4);
  const bool written =
      WriteImage(png, info, values, rows, cols, Scale(vmin, vmax),
                 ColormapColors(map), row.data());
  png_destroy_write_struct(&png, &info);
  if (!written) {
    return absl::InternalError(
        absl::StrCat("libpng failed to write a heatmap: ", sink.error));
  }
  return std::move(sink.out);
}

}  // namespace matcache
