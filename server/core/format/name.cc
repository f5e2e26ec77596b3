#include "server/core/format/name.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace matcache {
namespace {

// With a 200-character name, a 20-digit number and the longest suffix
// (".shm.quarantined"), a 16-character namespace keeps file names within
// NAME_MAX (255).
constexpr size_t kMaxNamespaceLength = 16;

bool IsNameChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         c == '-' || c == '.';
}

// Quotes a rejected string for an error message, escaping anything odd and
// cutting it short so a hostile name cannot flood the logs.
std::string Quote(absl::string_view s) {
  constexpr size_t kShown = 40;
  if (s.size() <= kShown) return absl::StrCat("\"", absl::CEscape(s), "\"");
  return absl::StrCat("\"", absl::CEscape(s.substr(0, kShown)), "...\"");
}

}  // namespace

absl::Status ValidateName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("name is empty");
  if (name.size() > kMaxNameLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("name ", Quote(name), " has ", name.size(),
                     " characters; at most ", kMaxNameLength, " are allowed"));
  }
  if (name.front() == '.') {
    return absl::InvalidArgumentError(
        absl::StrCat("name ", Quote(name), " starts with '.'"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    if (!IsNameChar(name[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          "name ", Quote(name), " has a character other than [A-Za-z0-9_.-] ",
          "at position ", i));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNamespace(absl::string_view name_space) {
  bool valid = !name_space.empty() && name_space.size() <= kMaxNamespaceLength;
  for (char c : name_space) {
    if (c == '.' || !IsNameChar(c)) valid = false;
  }
  if (valid) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("namespace ", Quote(name_space), " must have 1-",
                   kMaxNamespaceLength, " characters of [A-Za-z0-9_-]"));
}

}  // namespace matcache
