// WatchEvent: one item of a watch stream (see WatchHub): a change of a
// matrix, a matrix of the initial snapshot, or the snapshot's end.
#ifndef MATCACHE_SERVER_WATCH_WATCH_EVENT_H_
#define MATCACHE_SERVER_WATCH_WATCH_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "server/core/cache/catalogue.h"
#include "server/core/cache/matrix_info.h"

namespace matcache {

struct WatchEvent {
  enum class Kind {
    kPut,               // a version was published (or is in the snapshot)
    kDelete,            // the version `generation` of `name` was removed
    kSnapshotComplete,  // every matrix of the initial snapshot came before
  };

  Kind kind = Kind::kPut;
  // Why the change was made; nullopt for the snapshot and its end.
  std::optional<ChangeReason> reason;
  std::string name;         // empty for kSnapshotComplete
  uint64_t generation = 0;  // of the version published or removed
  // The change's place in commit order (CatalogueChange::sequence); for the
  // snapshot and its end, the last change the snapshot reflects.
  uint64_t sequence = 0;
  // The version published, as Info described it then (kPut only).
  MatrixInfo info;
};

// "put", "load", "delete", "eviction", "expiry", or "snapshot" for nullopt:
// the names the transports use.
const char* ReasonName(std::optional<ChangeReason> reason);

}  // namespace matcache

#endif  // MATCACHE_SERVER_WATCH_WATCH_EVENT_H_
