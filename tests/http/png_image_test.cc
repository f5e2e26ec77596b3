#include "server/http/png_image.h"

#include <png.h>

#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/http/colormap.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxDouble = std::numeric_limits<double>::max();

struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 0;
  int color_type = 0;
  std::vector<uint8_t> rgba;  // row by row, 4 bytes a pixel

  std::vector<int> Pixel(uint32_t x, uint32_t y) const {
    const uint8_t* p = &rgba[(size_t{y} * width + x) * 4];
    return {p[0], p[1], p[2], p[3]};
  }
};

struct Source {
  const std::string* data;
  size_t offset;
};

void ReadFromString(png_structp png, png_bytep out, png_size_t length) {
  auto* source = static_cast<Source*>(png_get_io_ptr(png));
  if (source->data->size() - source->offset < length) {
    png_error(png, "truncated PNG");
  }
  std::memcpy(out, source->data->data() + source->offset, length);
  source->offset += length;
}

// False if libpng fails or the image is not 8-bit RGBA.
bool ReadImage(png_structp png, png_infop info, Image* image) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_info(png, info);
  image->width = png_get_image_width(png, info);
  image->height = png_get_image_height(png, info);
  image->bit_depth = png_get_bit_depth(png, info);
  image->color_type = png_get_color_type(png, info);
  if (image->bit_depth != 8 || image->color_type != PNG_COLOR_TYPE_RGB_ALPHA) {
    return false;
  }
  image->rgba.resize(size_t{image->width} * image->height * 4);
  for (uint32_t y = 0; y < image->height; ++y) {
    png_read_row(png, &image->rgba[size_t{y} * image->width * 4], nullptr);
  }
  png_read_end(png, nullptr);
  return true;
}

Image Decode(const std::string& png_data) {
  Image image;
  EXPECT_EQ(
      png_sig_cmp(reinterpret_cast<png_const_bytep>(png_data.data()), 0, 8), 0);
  png_structp png =
      png_create_read_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  Source source{&png_data, 0};
  png_set_read_fn(png, &source, ReadFromString);
  EXPECT_TRUE(ReadImage(png, info, &image));
  png_destroy_read_struct(&png, &info, nullptr);
  return image;
}

Image Encode(const std::vector<double>& values, int64_t rows, int64_t cols,
             double vmin, double vmax, Colormap map) {
  absl::StatusOr<std::string> png =
      EncodeHeatmapPng(values.data(), rows, cols, vmin, vmax, map);
  EXPECT_TRUE(png.ok()) << png.status();
  if (!png.ok()) return Image();
  return Decode(*png);
}

std::vector<int> Opaque(const Rgb& rgb) { return {rgb.r, rgb.g, rgb.b, 255}; }

TEST(ColormapTest, ViridisAndMagmaAreMatplotlibs) {
  // matplotlib.colormaps[name](i / 255.), times 255, rounded.
  const ColormapTable& viridis = ColormapColors(Colormap::kViridis);
  EXPECT_THAT(Opaque(viridis[0]), ElementsAre(68, 1, 84, 255));
  EXPECT_THAT(Opaque(viridis[64]), ElementsAre(59, 82, 139, 255));
  EXPECT_THAT(Opaque(viridis[128]), ElementsAre(33, 145, 140, 255));
  EXPECT_THAT(Opaque(viridis[255]), ElementsAre(253, 231, 37, 255));
  const ColormapTable& magma = ColormapColors(Colormap::kMagma);
  EXPECT_THAT(Opaque(magma[0]), ElementsAre(0, 0, 4, 255));
  EXPECT_THAT(Opaque(magma[64]), ElementsAre(81, 18, 124, 255));
  EXPECT_THAT(Opaque(magma[128]), ElementsAre(183, 55, 121, 255));
  EXPECT_THAT(Opaque(magma[255]), ElementsAre(252, 253, 191, 255));
  const ColormapTable& gray = ColormapColors(Colormap::kGray);
  for (int i = 0; i < 256; ++i) {
    EXPECT_THAT(Opaque(gray[i]), ElementsAre(i, i, i, 255));
  }
}

TEST(ColormapTest, ParsesNamesAndListsThemOnError) {
  EXPECT_EQ(*ParseColormap("viridis"), Colormap::kViridis);
  EXPECT_EQ(*ParseColormap("magma"), Colormap::kMagma);
  EXPECT_EQ(*ParseColormap("gray"), Colormap::kGray);
  for (const char* name : {"", "Viridis", "grey", "jet"}) {
    absl::StatusOr<Colormap> parsed = ParseColormap(name);
    ASSERT_FALSE(parsed.ok()) << name;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(),
                HasSubstr("is not one of viridis, magma, gray"));
  }
  EXPECT_THAT(ParseColormap("jet").status().message(),
              HasSubstr("colormap \"jet\""));
}

TEST(FiniteRangeTest, SkipsNaNAndInfinities) {
  const std::vector<double> values = {kNaN, 3, -kInf, -2, kInf, 5, kNaN};
  EXPECT_EQ(FiniteRange(values.data(), values.size()),
            std::make_pair(-2.0, 5.0));
  const double one = 1.5;
  EXPECT_EQ(FiniteRange(&one, 1), std::make_pair(1.5, 1.5));
  const std::vector<double> none = {kNaN, kInf, -kInf};
  EXPECT_EQ(FiniteRange(none.data(), none.size()), std::nullopt);
  EXPECT_EQ(FiniteRange(nullptr, 0), std::nullopt);
}

TEST(EncodeHeatmapPngTest, IsRgbaColsWideRowsHighRowZeroOnTop) {
  // Gray with vmin 0, vmax 255: value i is pixel (i, i, i).
  const std::vector<double> values = {0, 10, 20, 30, 40, 50};
  const Image image = Encode(values, 2, 3, 0, 255, Colormap::kGray);
  EXPECT_EQ(image.width, 3u);
  EXPECT_EQ(image.height, 2u);
  EXPECT_EQ(image.bit_depth, 8);
  EXPECT_EQ(image.color_type, PNG_COLOR_TYPE_RGB_ALPHA);
  EXPECT_THAT(image.Pixel(0, 0), ElementsAre(0, 0, 0, 255));
  EXPECT_THAT(image.Pixel(2, 0), ElementsAre(20, 20, 20, 255));
  EXPECT_THAT(image.Pixel(0, 1), ElementsAre(30, 30, 30, 255));
  EXPECT_THAT(image.Pixel(2, 1), ElementsAre(50, 50, 50, 255));
}

TEST(EncodeHeatmapPngTest, MapsValuesThroughTheTable) {
  // 0.5 is index 127.5, rounded to 128; 0.25 is 63.75, so 64.
  const std::vector<double> values = {0, 0.5, 1, 0.25};
  const Image image = Encode(values, 1, 4, 0, 1, Colormap::kViridis);
  EXPECT_THAT(image.Pixel(0, 0), ElementsAre(68, 1, 84, 255));
  EXPECT_THAT(image.Pixel(1, 0), ElementsAre(33, 145, 140, 255));
  EXPECT_THAT(image.Pixel(2, 0), ElementsAre(253, 231, 37, 255));
  EXPECT_THAT(image.Pixel(3, 0), ElementsAre(59, 82, 139, 255));
}

TEST(EncodeHeatmapPngTest, NaNIsTransparentInfinitiesAreTheEnds) {
  const std::vector<double> values = {kNaN, kInf, -kInf, -kNaN};
  const Image image = Encode(values, 2, 2, 0, 1, Colormap::kMagma);
  EXPECT_THAT(image.Pixel(0, 0), ElementsAre(0, 0, 0, 0));
  EXPECT_THAT(image.Pixel(1, 0), ElementsAre(252, 253, 191, 255));
  EXPECT_THAT(image.Pixel(0, 1), ElementsAre(0, 0, 4, 255));
  EXPECT_THAT(image.Pixel(1, 1), ElementsAre(0, 0, 0, 0));
}

TEST(EncodeHeatmapPngTest, ClampsValuesOutsideTheRange) {
  const std::vector<double> values = {-1e300, 9, 10, 15, 20, 21, 1e300};
  const Image image = Encode(values, 1, 7, 10, 20, Colormap::kGray);
  EXPECT_THAT(image.Pixel(0, 0), ElementsAre(0, 0, 0, 255));
  EXPECT_THAT(image.Pixel(1, 0), ElementsAre(0, 0, 0, 255));
  EXPECT_THAT(image.Pixel(2, 0), ElementsAre(0, 0, 0, 255));
  EXPECT_THAT(image.Pixel(3, 0), ElementsAre(128, 128, 128, 255));
  EXPECT_THAT(image.Pixel(4, 0), ElementsAre(255, 255, 255, 255));
  EXPECT_THAT(image.Pixel(5, 0), ElementsAre(255, 255, 255, 255));
  EXPECT_THAT(image.Pixel(6, 0), ElementsAre(255, 255, 255, 255));
}

TEST(EncodeHeatmapPngTest, EqualBoundsMapFiniteValuesToIndexZero) {
  const std::vector<double> values = {-5, 3, 3, 1e308, kInf, -kInf};
  const Image image = Encode(values, 1, 6, 3, 3, Colormap::kGray);
  for (uint32_t x = 0; x < 4; ++x) {
    EXPECT_THAT(image.Pixel(x, 0), ElementsAre(0, 0, 0, 255)) << x;
  }
  EXPECT_THAT(image.Pixel(4, 0), ElementsAre(255, 255, 255, 255));
  EXPECT_THAT(image.Pixel(5, 0), ElementsAre(0, 0, 0, 255));
}

TEST(EncodeHeatmapPngTest, WidestBoundsDoNotOverflow) {
  const std::vector<double> values = {-kMaxDouble, 0, kMaxDouble};
  const Image image =
      Encode(values, 1, 3, -kMaxDouble, kMaxDouble, Colormap::kGray);
  EXPECT_THAT(image.Pixel(0, 0), ElementsAre(0, 0, 0, 255));
  EXPECT_THAT(image.Pixel(1, 0), ElementsAre(128, 128, 128, 255));
  EXPECT_THAT(image.Pixel(2, 0), ElementsAre(255, 255, 255, 255));
}

TEST(EncodeHeatmapPngTest, EveryPixelOfALargerImage) {
  constexpr int64_t kRows = 301;
  constexpr int64_t kCols = 1001;
  std::vector<double> values(kRows * kCols);
  for (size_t i = 0; i < values.size(); ++i) values[i] = (i * 7919) % 256;
  const Image image = Encode(values, kRows, kCols, 0, 255, Colormap::kGray);
  ASSERT_EQ(image.width, uint32_t{kCols});
  ASSERT_EQ(image.height, uint32_t{kRows});
  for (int64_t y = 0; y < kRows; ++y) {
    for (int64_t x = 0; x < kCols; ++x) {
      const int v = static_cast<int>(values[y * kCols + x]);
      ASSERT_THAT(image.Pixel(x, y), ElementsAre(v, v, v, 255))
          << x << "," << y;
    }
  }
}

TEST(EncodeHeatmapPngTest, RejectsEmptyOrHugeSidesAndBadBounds) {
  const double value = 1;
  for (auto [rows, cols] : std::vector<std::pair<int64_t, int64_t>>{
           {0, 1}, {1, 0}, {-1, 1}, {1, -1}, {1, kMaxPngSide + 1}}) {
    absl::StatusOr<std::string> png =
        EncodeHeatmapPng(&value, rows, cols, 0, 1, Colormap::kGray);
    ASSERT_FALSE(png.ok()) << rows << "x" << cols;
    EXPECT_EQ(png.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(png.status().message(), HasSubstr("each side must be 1 to"));
  }
  for (auto [vmin, vmax] : std::vector<std::pair<double, double>>{
           {kNaN, 1}, {0, kNaN}, {-kInf, 1}, {0, kInf}, {2, 1}}) {
    absl::StatusOr<std::string> png =
        EncodeHeatmapPng(&value, 1, 1, vmin, vmax, Colormap::kGray);
    ASSERT_FALSE(png.ok()) << vmin << ", " << vmax;
    EXPECT_EQ(png.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(png.status().message(),
                HasSubstr("bounds must be finite with vmin <= vmax"));
  }
}

}  // namespace
}  // namespace matcache
