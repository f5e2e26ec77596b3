#include "server/http/query_params.h"

#include "absl/strings/str_cat.h"

namespace matcache {

std::optional<std::string> QueryParams::Take(absl::string_view name) {
  auto it = left_.find(std::string(name));
  if (it == left_.end()) return std::nullopt;
  std::string value = std::move(it->second);
  left_.erase(it);
  return value;
}

absl::Status QueryParams::CheckAllTaken(absl::string_view accepted) const {
  if (left_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown query parameter \"", left_.begin()->first, "\" (this route takes ",
      accepted.empty() ? "none" : accepted, ")"));
}

}  // namespace matcache
