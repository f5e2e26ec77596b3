// Fuzzes the HTTP gateway's query parsers. The first byte picks ndim (the
// byte minus '0', modulo 9, so seeds start with a digit) and a small shape;
// the rest is the text. A slice that parses has at most ndim indices and
// parses again, unchanged, from its canonical spelling; where it resolves
// against the shape, every selection stays inside its dimension. The same
// text goes to the preview shape, number, bool and colormap parsers, whose
// results must obey their contracts.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fuzz/fuzz_checks.h"
#include "server/core/array/slice.h"
#include "server/http/colormap.h"
#include "server/http/query_numbers.h"
#include "server/http/slice_syntax.h"

namespace {

using matcache_fuzz::Check;
using matcache_fuzz::CheckInBounds;

std::string Spell(const std::optional<int64_t>& bound) {
  return bound.has_value() ? absl::StrCat(*bound) : "";
}

// The indices as ParseSlice reads them, with every slice part present.
std::string Spell(const std::vector<matcache::Index>& indices) {
  std::vector<std::string> items;
  for (const matcache::Index& index : indices) {
    items.push_back(index.is_slice ? absl::StrCat(Spell(index.start), ":",
                                                  Spell(index.stop), ":",
                                                  Spell(index.step))
                                   : absl::StrCat(index.at));
  }
  return absl::StrJoin(items, ",");
}

bool SameIndex(const matcache::Index& a, const matcache::Index& b) {
  if (a.is_slice != b.is_slice) return false;
  if (!a.is_slice) return a.at == b.at;
  return a.start == b.start && a.stop == b.stop && a.step == b.step;
}

void CheckSlice(const std::string& text, size_t ndim,
                const std::vector<int64_t>& shape) {
  absl::StatusOr<std::vector<matcache::Index>> indices =
      matcache::ParseSlice(text, ndim);
  if (!indices.ok()) return;
  Check(indices->size() <= ndim);

  absl::StatusOr<std::vector<matcache::Index>> again =
      matcache::ParseSlice(Spell(*indices), ndim);
  Check(again.ok() && again->size() == indices->size());
  for (size_t i = 0; i < indices->size(); ++i) {
    Check(SameIndex((*indices)[i], (*again)[i]));
  }

  absl::StatusOr<std::vector<matcache::DimSelection>> selection =
      matcache::ResolveIndices(shape, *indices);
  if (!selection.ok()) return;
  Check(selection->size() == shape.size());
  for (size_t d = 0; d < shape.size(); ++d) {
    CheckInBounds((*selection)[d], shape[d]);
  }
}

void CheckNumbers(const std::string& text) {
  absl::StatusOr<std::vector<int64_t>> shape =
      matcache::ParsePreviewShape(text);
  if (shape.ok()) {
    Check(!shape->empty() && shape->size() <= matcache::kMaxPreviewShapeDims);
    for (int64_t extent : *shape) {
      Check(extent >= 1 && extent <= matcache::kMaxPreviewExtent);
    }
  }
  absl::StatusOr<int64_t> whole = matcache::ParseWholeNumber("n", text);
  if (whole.ok()) {
    Check(*whole >= 0);
    const size_t digits = text.find_first_not_of('0');
    Check(absl::StrCat(*whole) ==
          (digits == std::string::npos ? "0" : text.substr(digits)));
  }
  absl::StatusOr<double> real = matcache::ParseFiniteDouble("x", text);
  if (real.ok()) Check(std::isfinite(*real));
  absl::StatusOr<bool> flag = matcache::ParseBool("b", text);
  if (flag.ok()) {
    Check(text == (*flag ? "1" : "0") || text == (*flag ? "true" : "false"));
  }
  absl::StatusOr<matcache::Colormap> map = matcache::ParseColormap(text);
  if (map.ok()) Check(matcache::ColormapColors(*map).size() == 256);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t ndim = static_cast<uint8_t>(data[0] - '0') % 9;
  std::vector<int64_t> shape(ndim);
  for (size_t d = 0; d < ndim; ++d) {
    shape[d] = static_cast<int64_t>((data[0] / 9 + d * 5) % 7);
  }
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  CheckSlice(text, ndim, shape);
  CheckNumbers(text);
  return 0;
}
