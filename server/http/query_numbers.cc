#include "server/http/query_numbers.h"

#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/http/quoted.h"

namespace matcache {
namespace {

absl::Status Error(absl::string_view name, absl::string_view text,
                   absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("parameter ", name, "=", Quoted(text), " ", problem));
}

bool AllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Skips the decimal digits at s[*i...]; returns how many there were.
size_t SkipDigits(absl::string_view s, size_t* i) {
  const size_t begin = *i;
  while (*i < s.size() &&
         absl::ascii_isdigit(static_cast<unsigned char>(s[*i]))) {
    ++*i;
  }
  return *i - begin;
}

// -?(D+(.D*)?|.D+)([eE][+-]?D+)? with D a decimal digit: no hex, no "inf"
// or "nan", which absl::from_chars would also take.
bool IsDecimalNumber(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  size_t digits = SkipDigits(s, &i);
  if (i < s.size() && s[i] == '.') {
    ++i;
    digits += SkipDigits(s, &i);
  }
  if (digits == 0) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (SkipDigits(s, &i) == 0) return false;
  }
  return i == s.size();
}

}  // namespace

absl::StatusOr<int64_t> ParseWholeNumber(absl::string_view name,
                                         absl::string_view text) {
  if (!AllDigits(text)) return Error(name, text, "is not a whole number");
  int64_t value = 0;
  if (!absl::SimpleAtoi(text, &value)) {
    return Error(name, text, "does not fit in 64 bits");
  }
  return value;
}

absl::StatusOr<double> ParseFiniteDouble(absl::string_view name,
                                         absl::string_view text) {
  if (!IsDecimalNumber(text)) {
    return Error(name, text, "is not a finite decimal number");
  }
  double value = 0;
  const char* end = text.data() + text.size();
  const absl::from_chars_result result =
      absl::from_chars(text.data(), end, value);
  if (result.ec != std::errc() || result.ptr != end) {
    return Error(name, text, "is out of the range of a double");
  }
  return value;
}

absl::StatusOr<bool> ParseBool(absl::string_view name, absl::string_view text) {
  if (text == "1" || text == "true") return true;
  if (text == "0" || text == "false") return false;
  return Error(name, text, "is not one of 1, 0, true, false");
}

absl::StatusOr<std::vector<int64_t>> ParsePreviewShape(absl::string_view text) {
  constexpr absl::string_view kName = "shape";
  std::vector<int64_t> shape;
  for (absl::string_view part : absl::StrSplit(text, 'x')) {
    if (shape.size() == kMaxPreviewShapeDims) {
      return Error(
          kName, text,
          absl::StrCat("has more than ", kMaxPreviewShapeDims, " dimensions"));
    }
    if (!AllDigits(part)) {
      return Error(kName, text,
                   absl::StrCat("has ", Quoted(part),
                                " for an extent; write extents separated by "
                                "'x', e.g. 100x200"));
    }
    int64_t extent = 0;
    if (!absl::SimpleAtoi(part, &extent) || extent < 1 ||
        extent > kMaxPreviewExtent) {
      return Error(kName, text,
                   absl::StrCat("has extent ", Quoted(part),
                                "; each must be 1 to ", kMaxPreviewExtent));
    }
    shape.push_back(extent);
  }
  return shape;
}

}  // namespace matcache
