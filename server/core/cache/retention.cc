#include "server/core/cache/retention.h"

#include <optional>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/base/logging.h"
#include "server/core/format/name.h"
#include "server/core/storage/atomic_file.h"

namespace matcache {

// Line format: "<name> <generation> pinned|- <expiry unix seconds>|-".
absl::StatusOr<RetentionTable> ReadRetentionTable(const std::string& path) {
  absl::StatusOr<std::optional<std::string>> text = ReadOwnFile(path);
  if (!text.ok()) return text.status();
  RetentionTable table;
  if (!text->has_value()) return table;
  for (absl::string_view line : absl::StrSplit(**text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, ' ');
    Retention retention;
    int64_t expires = 0;
    const bool valid =
        fields.size() == 4 && ValidateName(fields[0]).ok() &&
        absl::SimpleAtoi(fields[1], &retention.generation) &&
        (fields[2] == "pinned" || fields[2] == "-") &&
        (fields[3] == "-" || absl::SimpleAtoi(fields[3], &expires));
    if (!valid) {
      LogWarning("%s: skipping malformed line \"%s\"", path, line);
      continue;
    }
    retention.pinned = fields[2] == "pinned";
    if (fields[3] != "-") retention.expires = absl::FromUnixSeconds(expires);
    table[fields[0]] = retention;
  }
  return table;
}

absl::Status WriteRetentionTable(const std::string& path,
                                 const RetentionTable& table) {
  std::string text;
  for (const auto& [name, retention] : table) {
    if (retention.is_default()) continue;
    absl::StrAppend(&text, name, " ", retention.generation, " ",
                    retention.pinned ? "pinned" : "-", " ",
                    retention.expires == absl::InfiniteFuture()
                        ? std::string("-")
                        : absl::StrCat(absl::ToUnixSeconds(retention.expires)),
                    "\n");
  }
  return ReplaceFile(path, text);
}

}  // namespace matcache
