#include "server/http/quoted.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace matcache {

std::string Quoted(absl::string_view text) {
  constexpr size_t kShown = 64;
  if (text.size() <= kShown) return absl::StrCat("\"", absl::CEscape(text), "\"");
  return absl::StrCat("\"", absl::CEscape(text.substr(0, kShown)), "...\"");
}

}  // namespace matcache
