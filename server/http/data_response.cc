#include "server/http/data_response.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/core/array/selection_stream.h"
#include "server/core/array/slice.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/npy.h"
#include "server/core/format/shape.h"
#include "server/http/json_array.h"
#include "server/http/query_params.h"
#include "server/http/slice_syntax.h"

namespace matcache {
namespace {

// An .npy file: its header, then the selection, converted, read from the
// mapped segment as the client takes it (a selection that is not one range
// of the segment in its own dtype).
class NpyBody : public HttpBody {
 public:
  NpyBody(std::shared_ptr<const SegmentData> data, std::string header,
          SelectionStream stream)
      : data_(std::move(data)),
        header_(std::move(header)),
        stream_(std::move(stream)) {}

  int64_t size() const {
    return static_cast<int64_t>(header_.size()) + stream_.total_bytes();
  }

  size_t Read(char* out, size_t capacity) override {
    size_t written = 0;
    if (header_sent_ < header_.size()) {
      written = std::min(capacity, header_.size() - header_sent_);
      std::memcpy(out, header_.data() + header_sent_, written);
      header_sent_ += written;
    }
    const size_t data = static_cast<size_t>(std::min<int64_t>(
        static_cast<int64_t>(capacity - written), stream_.remaining_bytes()));
    stream_.Read(out + written, data);
    return written + data;
  }

 private:
  const std::shared_ptr<const SegmentData> data_;  // what stream_ reads
  const std::string header_;
  size_t header_sent_ = 0;
  SelectionStream stream_;
};

// What the regions of a borrowed .npy response point into.
struct BorrowedNpy {
  std::shared_ptr<const SegmentData> data;
  std::string header;
};

absl::Status CheckJsonSize(absl::Span<const int64_t> shape, int64_t max_elements) {
  ASSIGN_OR_RETURN(const int64_t elements, NumElements(shape));
  if (elements > max_elements) {
    return absl::InvalidArgumentError(absl::StrCat(
        "format=json holds at most ", max_elements, " elements and this slice has ",
        elements, ": ask for a smaller slice, or format=npy"));
  }
  return absl::OkStatus();
}

HttpResponse JsonData(const SegmentHeader& header, SelectionStream stream,
                      absl::Span<const int64_t> shape, DType dtype) {
  std::vector<char> values(static_cast<size_t>(stream.total_bytes()));
  stream.Read(values.data(), values.size());
  const nlohmann::json fields = {
      {"name", header.name},
      {"generation", header.generation},
      {"shape", std::vector<int64_t>(shape.begin(), shape.end())},
      {"dtype", std::string(GetDTypeInfo(dtype).name)},
  };
  // The fields, then "data" spliced in before the closing brace.
  std::string text = fields.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.pop_back();
  text.append(",\"data\":");
  AppendJsonArray(dtype, shape, values.data(), &text);
  text.push_back('}');
  HttpResponse response;
  response.content_type = "application/json";
  response.body = std::move(text);
  return response;
}

// The response to a checked query: `selection` of `segment` as `dtype`.
absl::StatusOr<HttpResponse> MakeData(const Segment& segment,
                                      absl::Span<const DimSelection> selection,
                                      DType dtype, bool json) {
  const SegmentHeader& header = segment.header();
  const std::vector<int64_t> shape = SelectedShape(selection);
  ASSIGN_OR_RETURN(std::shared_ptr<const SegmentData> data, segment.MapData());
  SelectionStream stream(data->data(), header.shape, header.dtype, selection,
                         dtype);
  if (json) return JsonData(header, std::move(stream), shape, dtype);
  HttpResponse response;
  response.content_type = "application/x-npy";
  if (stream.borrowable()) {
    // Sent straight from the mapping, after the header.
    auto owner = std::make_shared<BorrowedNpy>(
        BorrowedNpy{std::move(data), NpyHeaderFor(dtype, shape)});
    const size_t bytes = static_cast<size_t>(stream.total_bytes());
    response.regions = {owner->header, absl::string_view(stream.Take(bytes), bytes)};
    response.owner = std::move(owner);
    return response;
  }
  auto body = std::make_unique<NpyBody>(std::move(data), NpyHeaderFor(dtype, shape),
                                        std::move(stream));
  response.stream_bytes = body->size();
  response.stream = std::move(body);
  return response;
}

}  // namespace

absl::StatusOr<HttpResponseMaker> DataResponse(
    std::shared_ptr<const Segment> segment,
    const std::map<std::string, std::string>& query, int64_t json_max_elements) {
  const SegmentHeader& header = segment->header();
  QueryParams params(query);
  std::vector<Index> indices;
  if (std::optional<std::string> slice = params.Take("slice")) {
    ASSIGN_OR_RETURN(indices, ParseSlice(*slice, header.shape.size()));
  }
  DType dtype = header.dtype;
  if (std::optional<std::string> name = params.Take("dtype")) {
    ASSIGN_OR_RETURN(const DTypeInfo info, DTypeFromName(*name));
    dtype = info.dtype;
  }
  const std::string format = params.Take("format").value_or("npy");
  RETURN_IF_ERROR(params.CheckAllTaken("slice, dtype, format"));
  if (format != "npy" && format != "json") {
    return absl::InvalidArgumentError(
        absl::StrCat("format=", format, " is neither npy nor json"));
  }
  ASSIGN_OR_RETURN(std::vector<DimSelection> selection,
                   ResolveIndices(header.shape, indices));
  const bool json = format == "json";
  if (json) {
    RETURN_IF_ERROR(CheckJsonSize(SelectedShape(selection), json_max_elements));
  }
  return [segment = std::move(segment), selection = std::move(selection), dtype,
          json]() { return MakeData(*segment, selection, dtype, json); };
}

}  // namespace matcache
