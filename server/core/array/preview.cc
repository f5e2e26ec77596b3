#include "server/core/array/preview.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/core/format/half.h"
#include "server/core/format/shape.h"

namespace matcache {
namespace {

// Where block i of a dimension of n positions split into t cells begins.
int64_t BlockStart(int64_t i, int64_t n, int64_t t) {
  return static_cast<int64_t>(static_cast<__int128>(i) * n / t);
}

template <typename T>
struct IsComplex : std::false_type {};
template <typename T>
struct IsComplex<std::complex<T>> : std::true_type {};

// The value type a source element is reduced in: float16 as double, every
// other type as itself.
template <typename T>
using ValueOf = std::conditional_t<std::is_same_v<T, Half>, double, T>;

template <typename T>
ValueOf<T> Load(const T* p) {
  T raw;
  std::memcpy(&raw, p, sizeof(T));
  if constexpr (std::is_same_v<T, Half>) {
    return HalfToDouble(raw);
  } else if constexpr (std::is_same_v<T, bool>) {
    return *reinterpret_cast<const unsigned char*>(p) != 0;
  } else {
    return raw;
  }
}

template <typename V>
bool IsNaN(V value) {
  if constexpr (std::is_floating_point_v<V>) return std::isnan(value);
  return false;
}

template <typename T>
struct MeanOp {
  using V = ValueOf<T>;
  using Acc = std::conditional_t<IsComplex<T>::value, std::complex<double>, double>;
  using Out = Acc;
  static constexpr bool kFirstOnly = false;
  static Acc Init() { return Acc(0); }
  static void Combine(Acc& acc, V value) {
    if constexpr (IsComplex<T>::value) {
      acc += std::complex<double>(value.real(), value.imag());
    } else {
      acc += static_cast<double>(value);
    }
  }
  static Out Finish(Acc acc, int64_t volume) {
    return acc / static_cast<double>(volume);
  }
};

template <typename T, bool kMin>
struct ExtremeOp {
  using V = ValueOf<T>;
  using Acc = V;
  using Out = T;
  static constexpr bool kFirstOnly = false;
  static Acc Init() {
    if constexpr (std::is_floating_point_v<V>) {
      return kMin ? std::numeric_limits<V>::infinity()
                  : -std::numeric_limits<V>::infinity();
    } else {
      return kMin ? std::numeric_limits<V>::max() : std::numeric_limits<V>::lowest();
    }
  }
  static void Combine(Acc& acc, V value) {
    // Once a NaN is seen it stays: no comparison with NaN is true.
    if (IsNaN(value) || (kMin ? value < acc : value > acc)) acc = value;
  }
  static Out Finish(Acc acc, int64_t /*volume*/) {
    if constexpr (std::is_same_v<T, Half>) {
      return DoubleToHalf(acc);
    } else {
      return acc;
    }
  }
};

template <typename T>
struct FirstOp {
  using V = ValueOf<T>;
  using Acc = V;
  using Out = T;
  static constexpr bool kFirstOnly = true;
  static Acc Init() { return Acc{}; }
  static void Combine(Acc& acc, V value) { acc = value; }
  static Out Finish(Acc acc, int64_t /*volume*/) {
    if constexpr (std::is_same_v<T, Half>) {
      return DoubleToHalf(acc);  // exact: acc came from a half
    } else {
      return acc;
    }
  }
};

// Reduction of output rows with one source type and one method.
template <typename T, typename Op>
class RowReducer {
 public:
  using Acc = typename Op::Acc;
  using Out = typename Op::Out;

  RowReducer(const T* source, absl::Span<const int64_t> shape, int reduced,
             absl::Span<const int64_t> out_shape)
      : source_(source),
        shape_(shape.begin(), shape.end()),
        out_shape_(out_shape.begin(), out_shape.end()),
        reduced_(reduced) {
    source_stride_.assign(shape_.size(), 1);
    for (size_t d = shape_.size(); d-- > 1;) {
      source_stride_[d - 1] = source_stride_[d] * shape_[d];
    }
    out_stride_.assign(out_shape_.size(), 1);
    for (size_t d = out_shape_.size(); d-- > 1;) {
      out_stride_[d - 1] = out_stride_[d] * out_shape_[d];
    }
    trailing_ = 1;
    for (size_t d = reduced_; d < shape_.size(); ++d) trailing_ *= shape_[d];
  }

  int64_t row_elements() const { return out_stride_[0]; }

  // Computes output row `row` into `out` using `acc` (row_elements()) as
  // scratch.
  void Row(int64_t row, Acc* acc, Out* out) const {
    std::fill(acc, acc + row_elements(), Op::Init());
    const int64_t begin = BlockStart(row, shape_[0], out_shape_[0]);
    const int64_t end =
        Op::kFirstOnly ? begin + 1 : BlockStart(row + 1, shape_[0], out_shape_[0]);
    for (int64_t r = begin; r < end; ++r) {
      Accumulate(source_ + r * source_stride_[0], 1, acc);
    }
    FinishCells(1, end - begin, acc, out);
  }

 private:
  // Folds the source sub-array at `source` (dimensions d..) into `acc`.
  void Accumulate(const T* source, size_t d, Acc* acc) const {
    if (d == static_cast<size_t>(reduced_)) {
      for (int64_t e = 0; e < trailing_; ++e) Op::Combine(acc[e], Load(source + e));
      return;
    }
    const int64_t n = shape_[d];
    const int64_t t = out_shape_[d];
    const bool innermost = d + 1 == static_cast<size_t>(reduced_) && trailing_ == 1;
    for (int64_t i = 0; i < t; ++i) {
      const int64_t begin = BlockStart(i, n, t);
      const int64_t end = Op::kFirstOnly ? begin + 1 : BlockStart(i + 1, n, t);
      Acc* cell = acc + i * out_stride_[d];
      if (innermost) {
        for (int64_t r = begin; r < end; ++r) Op::Combine(*cell, Load(source + r));
      } else {
        for (int64_t r = begin; r < end; ++r) {
          Accumulate(source + r * source_stride_[d], d + 1, cell);
        }
      }
    }
  }

  // Turns accumulators of dimensions d.. into output values; `volume` is the
  // number of source elements per cell so far.
  void FinishCells(size_t d, int64_t volume, const Acc* acc, Out* out) const {
    if (d >= static_cast<size_t>(reduced_)) {
      for (int64_t e = 0; e < trailing_; ++e) out[e] = Op::Finish(acc[e], volume);
      return;
    }
    const int64_t n = shape_[d];
    const int64_t t = out_shape_[d];
    for (int64_t i = 0; i < t; ++i) {
      const int64_t block = BlockStart(i + 1, n, t) - BlockStart(i, n, t);
      FinishCells(d + 1, volume * block, acc + i * out_stride_[d],
                  out + i * out_stride_[d]);
    }
  }

  const T* source_;
  std::vector<int64_t> shape_;
  std::vector<int64_t> out_shape_;
  int reduced_;
  std::vector<int64_t> source_stride_;
  std::vector<int64_t> out_stride_;
  int64_t trailing_;
};

template <typename T, typename Op>
void ReduceRows(const char* source, absl::Span<const int64_t> shape, int reduced,
                absl::Span<const int64_t> out_shape, int64_t begin, int64_t end,
                char* out) {
  RowReducer<T, Op> reducer(reinterpret_cast<const T*>(source), shape, reduced,
                            out_shape);
  using Out = typename Op::Out;
  // Arrays, not vectors: std::vector<bool> has no data().
  const int64_t elements = reducer.row_elements();
  auto acc = std::make_unique<typename Op::Acc[]>(elements);
  auto row = std::make_unique<Out[]>(elements);
  for (int64_t r = begin; r < end; ++r) {
    reducer.Row(r, acc.get(), row.get());
    std::memcpy(out + (r - begin) * elements * sizeof(Out), row.get(),
                elements * sizeof(Out));
  }
}

template <typename T>
void ReduceRowsWith(PreviewMethod method, const char* source,
                    absl::Span<const int64_t> shape, int reduced,
                    absl::Span<const int64_t> out_shape, int64_t begin,
                    int64_t end, char* out) {
  switch (method) {
    case PreviewMethod::kMean:
      return ReduceRows<T, MeanOp<T>>(source, shape, reduced, out_shape, begin, end, out);
    case PreviewMethod::kFirst:
      return ReduceRows<T, FirstOp<T>>(source, shape, reduced, out_shape, begin, end, out);
    case PreviewMethod::kMin:
      if constexpr (!IsComplex<T>::value) {
        return ReduceRows<T, ExtremeOp<T, true>>(source, shape, reduced, out_shape,
                                                 begin, end, out);
      }
      break;
    case PreviewMethod::kMax:
      if constexpr (!IsComplex<T>::value) {
        return ReduceRows<T, ExtremeOp<T, false>>(source, shape, reduced, out_shape,
                                                  begin, end, out);
      }
      break;
  }
}

}  // namespace

absl::StatusOr<Previewer> Previewer::Create(const char* source,
                                            absl::Span<const int64_t> shape,
                                            DType dtype,
                                            absl::Span<const int64_t> target,
                                            PreviewMethod method) {
  if (target.empty()) {
    return absl::InvalidArgumentError("preview shape is empty");
  }
  if (target.size() > shape.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "preview shape ", ShapeToString(target), " has more dimensions than the ",
        "matrix ", ShapeToString(shape)));
  }
  for (size_t d = 0; d < target.size(); ++d) {
    if (target[d] <= 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "preview shape ", ShapeToString(target), " has a non-positive extent ",
          "in dimension ", d));
    }
    if (target[d] > shape[d]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "preview shape ", ShapeToString(target), " is larger than the matrix ",
          ShapeToString(shape), " in dimension ", d));
    }
  }
  const bool complex = dtype == DType::kComplex64 || dtype == DType::kComplex128;
  if (complex && (method == PreviewMethod::kMin || method == PreviewMethod::kMax)) {
    return absl::InvalidArgumentError(
        "min and max previews of complex values are not defined; use mean or "
        "first");
  }
  Previewer previewer;
  previewer.source_ = source;
  previewer.shape_.assign(shape.begin(), shape.end());
  previewer.dtype_ = dtype;
  previewer.method_ = method;
  previewer.reduced_dims_ = static_cast<int>(target.size());
  previewer.output_shape_.assign(target.begin(), target.end());
  previewer.output_shape_.insert(previewer.output_shape_.end(),
                                 shape.begin() + target.size(), shape.end());
  previewer.output_dtype_ =
      method != PreviewMethod::kMean ? dtype
      : complex                      ? DType::kComplex128
                                     : DType::kFloat64;
  const int64_t item = GetDTypeInfo(previewer.output_dtype_).item_size;
  absl::StatusOr<int64_t> bytes = ByteSize(previewer.output_shape_, item);
  if (!bytes.ok() || *bytes > kMaxPreviewBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "preview ", ShapeToString(previewer.output_shape_), " would exceed ",
        kMaxPreviewBytes, " bytes; ask for a smaller shape or use Read"));
  }
  previewer.rows_ = *bytes == 0 ? 0 : previewer.output_shape_[0];
  previewer.row_bytes_ = *bytes / previewer.output_shape_[0];
  return previewer;
}

void Previewer::ComputeRange(int64_t begin, int64_t end, char* out) const {
  auto run = [&](auto type_tag) {
    using T = decltype(type_tag);
    ReduceRowsWith<T>(method_, source_, shape_, reduced_dims_, output_shape_,
                      begin, end, out);
  };
  switch (dtype_) {
    case DType::kBool: return run(bool{});
    case DType::kInt8: return run(int8_t{});
    case DType::kInt16: return run(int16_t{});
    case DType::kInt32: return run(int32_t{});
    case DType::kInt64: return run(int64_t{});
    case DType::kUInt8: return run(uint8_t{});
    case DType::kUInt16: return run(uint16_t{});
    case DType::kUInt32: return run(uint32_t{});
    case DType::kUInt64: return run(uint64_t{});
    case DType::kFloat16: return run(Half{});
    case DType::kFloat32: return run(float{});
    case DType::kFloat64: return run(double{});
    case DType::kComplex64: return run(std::complex<float>{});
    case DType::kComplex128: return run(std::complex<double>{});
  }
}

void Previewer::ComputeRows(int64_t begin, int64_t end, char* out,
                            int threads) const {
  const int64_t rows = end - begin;
  const int64_t parts = std::clamp<int64_t>(threads, 1, std::max<int64_t>(rows, 1));
  std::vector<std::thread> helpers;
  for (int64_t p = 1; p < parts; ++p) {
    const int64_t from = begin + rows * p / parts;
    const int64_t to = begin + rows * (p + 1) / parts;
    helpers.emplace_back([this, from, to, begin, out] {
      ComputeRange(from, to, out + (from - begin) * row_bytes_);
    });
  }
  ComputeRange(begin, begin + rows / parts, out);
  for (std::thread& helper : helpers) helper.join();
}

}  // namespace matcache
