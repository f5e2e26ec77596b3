#include "server/matcached/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace matcache {
namespace {

void Notify(const std::string& state) {
  // Returns 0 without $NOTIFY_SOCKET; a failure to reach systemd changes
  // nothing the server does.
  sd_notify(/*unset_environment=*/0, state.c_str());
}

}  // namespace

void NotifyReady(absl::string_view status) {
  Notify(absl::StrCat("READY=1\nSTATUS=", status));
}

void NotifyReloading(absl::string_view status) {
  Notify(absl::StrCat("RELOADING=1\nSTATUS=", status));
}

void NotifyStopping(absl::string_view status) {
  Notify(absl::StrCat("STOPPING=1\nSTATUS=", status));
}

void NotifyWatchdog() { Notify("WATCHDOG=1"); }

absl::Duration WatchdogInterval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(/*unset_environment=*/0, &usec) <= 0 || usec == 0) {
    return absl::InfiniteDuration();
  }
  return absl::Microseconds(static_cast<int64_t>(usec)) / 2;
}

}  // namespace matcache
