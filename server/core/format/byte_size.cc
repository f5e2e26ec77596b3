#include "server/core/format/byte_size.h"

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace matcache {

absl::StatusOr<int64_t> ParseByteSize(absl::string_view text) {
  int shift = 0;
  if (!text.empty()) {
    switch (absl::ascii_toupper(static_cast<unsigned char>(text.back()))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: break;
    }
    if (shift != 0) text.remove_suffix(1);
  }
  int64_t value;
  const bool digits_only =
      !text.empty() && text.find_first_not_of("0123456789") == absl::string_view::npos;
  if (!digits_only || !absl::SimpleAtoi(text, &value) ||
      value > (INT64_MAX >> shift)) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is not a byte size such as 512M or 8G"));
  }
  return value << shift;
}

}  // namespace matcache
