#include "server/http/preview_response.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/array/cast.h"
#include "server/core/array/preview.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/npy.h"
#include "server/http/colormap.h"
#include "server/http/png_image.h"
#include "server/http/query_numbers.h"
#include "server/http/query_params.h"

namespace matcache {
namespace {

absl::StatusOr<PreviewMethod> ParseMethod(const std::string& text) {
  if (text == "mean") return PreviewMethod::kMean;
  if (text == "min") return PreviewMethod::kMin;
  if (text == "max") return PreviewMethod::kMax;
  if (text == "first") return PreviewMethod::kFirst;
  return absl::InvalidArgumentError(absl::StrCat(
      "method=", text, " is not a preview method (mean, min, max, first)"));
}

bool IsComplex(DType dtype) {
  return dtype == DType::kComplex64 || dtype == DType::kComplex128;
}

// What a png preview asks for beyond the preview itself.
struct PngStyle {
  Colormap colormap = Colormap::kViridis;
  std::optional<double> vmin;
  std::optional<double> vmax;
};

absl::StatusOr<PngStyle> TakePngStyle(QueryParams& params) {
  PngStyle style;
  if (std::optional<std::string> name = params.Take("colormap")) {
    ASSIGN_OR_RETURN(style.colormap, ParseColormap(*name));
  }
  if (std::optional<std::string> text = params.Take("vmin")) {
    ASSIGN_OR_RETURN(style.vmin, ParseFiniteDouble("vmin", *text));
  }
  if (std::optional<std::string> text = params.Take("vmax")) {
    ASSIGN_OR_RETURN(style.vmax, ParseFiniteDouble("vmax", *text));
  }
  if (style.vmin.has_value() && style.vmax.has_value() && *style.vmin > *style.vmax) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vmin=", *style.vmin, " is above vmax=", *style.vmax));
  }
  return style;
}

// INVALID_ARGUMENT unless what `previewer` computes can be a heatmap.
absl::Status CheckPngable(const Previewer& previewer) {
  const std::vector<int64_t>& shape = previewer.output_shape();
  if (shape.size() != 2 || IsComplex(previewer.output_dtype())) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format=png needs a 2-dimensional real preview; this one has ",
        shape.size(), " dimensions of ", GetDTypeInfo(previewer.output_dtype()).name,
        " (use format=npy)"));
  }
  return CheckPngSize(shape[0], shape[1]);
}

// The heatmap of `values`, what `previewer` computed (CheckPngable passed).
absl::StatusOr<HttpResponse> Png(const Previewer& previewer, const std::string& values,
                                 const PngStyle& style) {
  const std::vector<int64_t>& shape = previewer.output_shape();
  const int64_t count = shape[0] * shape[1];
  std::vector<double> doubles(static_cast<size_t>(count));
  CastElements(previewer.output_dtype(), DType::kFloat64, values.data(),
               reinterpret_cast<char*>(doubles.data()), count);
  const std::optional<std::pair<double, double>> range =
      FiniteRange(doubles.data(), count);
  // A bound given alone is kept, the other following it if the values all
  // lie beyond it (a range of one value: every pixel takes the first
  // colour, as for a constant preview).
  double vmin = style.vmin.value_or(range.has_value() ? range->first : 0.0);
  double vmax = style.vmax.value_or(range.has_value() ? range->second : 0.0);
  if (!style.vmax.has_value()) vmax = std::max(vmax, vmin);
  if (!style.vmin.has_value()) vmin = std::min(vmin, vmax);
  HttpResponse response;
  response.content_type = "image/png";
  ASSIGN_OR_RETURN(response.body, EncodeHeatmapPng(doubles.data(), shape[0], shape[1],
                                                   vmin, vmax, style.colormap));
  return response;
}

// Computes the preview and makes its response; the caller keeps what
// `previewer` reads mapped.
absl::StatusOr<HttpResponse> MakePreview(const Previewer& previewer,
                                         const std::optional<PngStyle>& png,
                                         int threads) {
  std::string values(static_cast<size_t>(previewer.rows() * previewer.row_bytes()), '\0');
  previewer.ComputeRows(0, previewer.rows(), values.data(), threads);
  if (png.has_value()) return Png(previewer, values, *png);
  HttpResponse response;
  response.content_type = "application/x-npy";
  response.body =
      NpyHeaderFor(previewer.output_dtype(), previewer.output_shape()) + values;
  return response;
}

}  // namespace

absl::StatusOr<HttpResponseMaker> PreviewResponse(
    const std::shared_ptr<const Segment>& segment,
    const std::map<std::string, std::string>& query, int threads) {
  const SegmentHeader& header = segment->header();
  QueryParams params(query);
  const std::optional<std::string> shape_text = params.Take("shape");
  if (!shape_text.has_value()) {
    return absl::InvalidArgumentError(
        "a preview needs shape=R or shape=RxC (the size of the result)");
  }
  ASSIGN_OR_RETURN(const std::vector<int64_t> target, ParsePreviewShape(*shape_text));
  ASSIGN_OR_RETURN(const PreviewMethod method,
                   ParseMethod(params.Take("method").value_or("mean")));
  const std::string format = params.Take("format").value_or("npy");
  if (format != "npy" && format != "png") {
    return absl::InvalidArgumentError(
        absl::StrCat("format=", format, " is neither npy nor png"));
  }
  std::optional<PngStyle> png;
  if (format == "png") {
    ASSIGN_OR_RETURN(png, TakePngStyle(params));
  }
  RETURN_IF_ERROR(params.CheckAllTaken(
      png.has_value() ? "shape, method, format, colormap, vmin, vmax"
                      : "shape, method, format"));
  ASSIGN_OR_RETURN(std::shared_ptr<const SegmentData> data, segment->MapData());
  ASSIGN_OR_RETURN(Previewer previewer,
                   Previewer::Create(data->data(), header.shape, header.dtype,
                                     target, method));
  if (png.has_value()) RETURN_IF_ERROR(CheckPngable(previewer));
  return [data = std::move(data), previewer = std::move(previewer),
          png = std::move(png), threads]() {
    return MakePreview(previewer, png, threads);
  };
}

}  // namespace matcache
