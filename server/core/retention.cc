#include "server/core/retention.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/logging.h"
#include "server/core/name.h"
#include "server/core/posix_error.h"

namespace matcache {

// Line format: "<name> <generation> pinned|- <expiry unix seconds>|-".
RetentionTable ReadRetentionTable(const std::string& path) {
  RetentionTable table;
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
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
  const std::string aside = path + ".tmp";
  const int fd = open(aside.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError(errno, "create", aside);
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      close(fd);
      unlink(aside.c_str());
      return PosixError(error, "write", aside);
    }
    written += static_cast<size_t>(n);
  }
  close(fd);
  if (rename(aside.c_str(), path.c_str()) != 0) {
    const int error = errno;
    unlink(aside.c_str());
    return PosixError(error, "rename", aside);
  }
  return absl::OkStatus();
}

}  // namespace matcache
