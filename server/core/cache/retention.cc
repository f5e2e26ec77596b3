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

Retention RetentionBook::Get(const std::string& name) const {
  auto it = table_.find(name);
  return it == table_.end() ? Retention() : it->second;
}

void RetentionBook::Set(const std::string& name, const Retention& retention) {
  auto it = table_.find(name);
  const Retention old = it == table_.end() ? Retention() : it->second;
  if (old.pinned == retention.pinned && old.expires == retention.expires &&
      old.generation == retention.generation) {
    return;
  }
  if (retention.is_default()) {
    if (it == table_.end()) return;
    table_.erase(it);
  } else {
    table_[name] = retention;
  }
  dirty_ = true;
}

void RetentionBook::Undo(const std::string& name, const Retention& before) {
  Set(name, before);
  dirty_ = false;
}

absl::Status RetentionBook::Write() {
  if (!dirty_) return absl::OkStatus();
  absl::Status written = WriteRetentionTable(path_, table_);
  if (written.ok()) dirty_ = false;
  return written;
}

std::vector<std::string> RetentionBook::ExpiredBefore(absl::Time now) const {
  std::vector<std::string> expired;
  for (const auto& [name, retention] : table_) {
    if (retention.expires < now) expired.push_back(name);
  }
  return expired;
}

}  // namespace matcache
