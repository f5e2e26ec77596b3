#include "server/watch/watch_event.h"

namespace matcache {

const char* ReasonName(std::optional<ChangeReason> reason) {
  if (!reason.has_value()) return "snapshot";
  switch (*reason) {
    case ChangeReason::kPut: return "put";
    case ChangeReason::kLoad: return "load";
    case ChangeReason::kDelete: return "delete";
    case ChangeReason::kEviction: return "eviction";
    case ChangeReason::kExpiry: return "expiry";
  }
  return "unknown";
}

}  // namespace matcache
