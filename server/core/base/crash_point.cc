#include "server/core/base/crash_point.h"

#include <signal.h>

#include <cstdlib>
#include <string>

#include "server/core/base/logging.h"

namespace matcache {

void CrashPoint(absl::string_view name) {
  static const std::string* const configured = [] {
    const char* value = std::getenv("MATCACHE_CRASH_POINT");
    return new std::string(value != nullptr ? value : "");
  }();
  if (configured->empty() || *configured != name) return;
  Log(LogSeverity::kError, std::string("crash point reached: ") + std::string(name));
  raise(SIGKILL);
}

}  // namespace matcache
