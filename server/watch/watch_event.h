// The names the transports give the reasons of watch events.
#ifndef MATCACHE_SERVER_WATCH_WATCH_EVENT_H_
#define MATCACHE_SERVER_WATCH_WATCH_EVENT_H_

#include <optional>

#include "matcache/change_reason.h"
#include "matcache/watch_event.h"

namespace matcache {

// "put", "load", "delete", "eviction", "expiry", or "snapshot" for nullopt.
const char* ReasonName(std::optional<ChangeReason> reason);

}  // namespace matcache

#endif  // MATCACHE_SERVER_WATCH_WATCH_EVENT_H_
