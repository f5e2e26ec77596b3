#include "server/http/slice_syntax.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/base/status_macros.h"
#include "server/http/quoted.h"

namespace matcache {
namespace {

absl::Status Error(absl::string_view text, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("slice ", Quoted(text), " ", problem));
}

// An optional '-' and one or more decimal digits.
bool IsDecimal(absl::string_view s) {
  if (!s.empty() && s.front() == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<int64_t> ParseInteger(absl::string_view text,
                                     absl::string_view part) {
  if (!IsDecimal(part)) {
    return Error(text, absl::StrCat("has ", Quoted(part), ", not an integer"));
  }
  int64_t value = 0;
  if (!absl::SimpleAtoi(part, &value)) {
    return Error(text, absl::StrCat("has ", Quoted(part),
                                    ", which does not fit in 64 bits"));
  }
  return value;
}

// An empty slice part is an unset bound.
absl::StatusOr<std::optional<int64_t>> ParseBound(absl::string_view text,
                                                  absl::string_view part) {
  if (part.empty()) return std::nullopt;
  ASSIGN_OR_RETURN(int64_t value, ParseInteger(text, part));
  return value;
}

// One item that is not "...".
absl::StatusOr<Index> ParseItem(absl::string_view text,
                                absl::string_view item) {
  std::vector<absl::string_view> parts = absl::StrSplit(item, ':');
  if (parts.size() == 1) {
    ASSIGN_OR_RETURN(int64_t position, ParseInteger(text, item));
    return Index::At(position);
  }
  if (parts.size() > 3) {
    return Error(text, absl::StrCat("has ", Quoted(item),
                                    ", more than 3 parts (start:stop:step)"));
  }
  ASSIGN_OR_RETURN(std::optional<int64_t> start, ParseBound(text, parts[0]));
  ASSIGN_OR_RETURN(std::optional<int64_t> stop, ParseBound(text, parts[1]));
  std::optional<int64_t> step;
  if (parts.size() == 3) {
    ASSIGN_OR_RETURN(step, ParseBound(text, parts[2]));
  }
  return Index::Slice(start, stop, step);
}

}  // namespace

absl::StatusOr<std::vector<Index>> ParseSlice(absl::string_view text,
                                              size_t ndim) {
  if (text.size() > kMaxSliceTextLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("slice has ", text.size(), " characters; at most ",
                     kMaxSliceTextLength, " are allowed"));
  }
  for (char c : text) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      return Error(text, "contains whitespace");
    }
  }
  if (text.empty()) return std::vector<Index>();

  std::vector<absl::string_view> items = absl::StrSplit(text, ',');
  if (items.size() > 1 && items.back().empty()) items.pop_back();
  std::vector<Index> indices;
  std::optional<size_t> ellipsis;  // where "..." goes in `indices`
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].empty()) {
      return Error(text, absl::StrCat("has an empty item (item ", i + 1, ")"));
    }
    if (items[i] == "...") {
      if (ellipsis.has_value()) return Error(text, "has more than one \"...\"");
      ellipsis = indices.size();
      continue;
    }
    ASSIGN_OR_RETURN(Index index, ParseItem(text, items[i]));
    indices.push_back(index);
  }
  if (indices.size() > ndim) {
    return Error(text, absl::StrCat("has ", indices.size(), " indices for a ",
                                    ndim, "-dimensional matrix"));
  }
  if (ellipsis.has_value()) {
    indices.insert(indices.begin() + static_cast<ptrdiff_t>(*ellipsis),
                   ndim - indices.size(), Index::All());
  }
  return indices;
}

}  // namespace matcache
