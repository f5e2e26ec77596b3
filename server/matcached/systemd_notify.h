// What matcached tells systemd through sd_notify(3): readiness, status,
// reloads, shutdown and watchdog pings. Without $NOTIFY_SOCKET (not started
// by systemd, or a unit without Type=notify) every function does nothing.
#ifndef MATCACHE_SERVER_MATCACHED_SYSTEMD_NOTIFY_H_
#define MATCACHE_SERVER_MATCACHED_SYSTEMD_NOTIFY_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace matcache {

// READY=1 with STATUS=`status`: the server serves.
void NotifyReady(absl::string_view status);

// RELOADING=1 with STATUS=`status`, before a reload (SIGHUP).
void NotifyReloading(absl::string_view status);

// STOPPING=1 with STATUS=`status`: the server shuts down.
void NotifyStopping(absl::string_view status);

// WATCHDOG=1: the server is alive.
void NotifyWatchdog();

// How often to send WATCHDOG=1: half of $WATCHDOG_USEC when the unit sets
// WatchdogSec= for this process, else absl::InfiniteDuration().
absl::Duration WatchdogInterval();

}  // namespace matcache

#endif  // MATCACHE_SERVER_MATCACHED_SYSTEMD_NOTIFY_H_
