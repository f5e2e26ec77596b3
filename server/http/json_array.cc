#include "server/http/json_array.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "server/core/format/half.h"

namespace matcache {
namespace {

template <typename T>
T Load(const char* data) {
  T value;
  std::memcpy(&value, data, sizeof(T));
  return value;
}

// Shortest text that reads back as the same `value` of its type.
template <typename Float>
void AppendFloat(Float value, std::string* out) {
  if (!std::isfinite(value)) {
    out->append("null");
    return;
  }
  char text[32];
  const std::to_chars_result end = std::to_chars(text, text + sizeof(text), value);
  out->append(text, end.ptr);
}

// [re, im] of a complex number of two `Float`s.
template <typename Float>
void AppendComplex(const char* data, std::string* out) {
  out->push_back('[');
  AppendFloat(Load<Float>(data), out);
  out->push_back(',');
  AppendFloat(Load<Float>(data + sizeof(Float)), out);
  out->push_back(']');
}

void AppendElement(DType dtype, const char* data, std::string* out) {
  switch (dtype) {
    case DType::kBool: out->append(data[0] != 0 ? "true" : "false"); return;
    case DType::kInt8: absl::StrAppend(out, Load<int8_t>(data)); return;
    case DType::kInt16: absl::StrAppend(out, Load<int16_t>(data)); return;
    case DType::kInt32: absl::StrAppend(out, Load<int32_t>(data)); return;
    case DType::kInt64: absl::StrAppend(out, Load<int64_t>(data)); return;
    case DType::kUInt8: absl::StrAppend(out, Load<uint8_t>(data)); return;
    case DType::kUInt16: absl::StrAppend(out, Load<uint16_t>(data)); return;
    case DType::kUInt32: absl::StrAppend(out, Load<uint32_t>(data)); return;
    case DType::kUInt64: absl::StrAppend(out, Load<uint64_t>(data)); return;
    case DType::kFloat16: AppendFloat(HalfToDouble(Load<Half>(data)), out); return;
    case DType::kFloat32: AppendFloat(Load<float>(data), out); return;
    case DType::kFloat64: AppendFloat(Load<double>(data), out); return;
    case DType::kComplex64: AppendComplex<float>(data, out); return;
    case DType::kComplex128: AppendComplex<double>(data, out); return;
  }
}

// Appends the sub-array of `shape` at `data`; returns the bytes it took.
int64_t AppendNested(DType dtype, int64_t item_size, absl::Span<const int64_t> shape,
                     const char* data, std::string* out) {
  if (shape.empty()) {
    AppendElement(dtype, data, out);
    return item_size;
  }
  out->push_back('[');
  int64_t consumed = 0;
  for (int64_t i = 0; i < shape[0]; ++i) {
    if (i > 0) out->push_back(',');
    consumed += AppendNested(dtype, item_size, shape.subspan(1), data + consumed, out);
  }
  out->push_back(']');
  return consumed;
}

}  // namespace

void AppendJsonArray(DType dtype, absl::Span<const int64_t> shape,
                     const char* data, std::string* out) {
  AppendNested(dtype, GetDTypeInfo(dtype).item_size, shape, data, out);
}

}  // namespace matcache
