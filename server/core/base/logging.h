// Minimal line-oriented logging to stderr (Abseil 20220623 has no absl/log).
// Thread-safe: each call writes one whole line.
#ifndef MATCACHE_SERVER_CORE_BASE_LOGGING_H_
#define MATCACHE_SERVER_CORE_BASE_LOGGING_H_

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace matcache {

enum class LogSeverity { kInfo, kWarning, kError };

// Writes "<UTC time> <severity> <message>\n" to stderr.
void Log(LogSeverity severity, absl::string_view message);

template <typename... Args>
void LogInfo(const absl::FormatSpec<Args...>& format, const Args&... args) {
  Log(LogSeverity::kInfo, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogWarning(const absl::FormatSpec<Args...>& format, const Args&... args) {
  Log(LogSeverity::kWarning, absl::StrFormat(format, args...));
}

template <typename... Args>
void LogError(const absl::FormatSpec<Args...>& format, const Args&... args) {
  Log(LogSeverity::kError, absl::StrFormat(format, args...));
}

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_LOGGING_H_
