// WatchEvent: one item of a watch stream: a change of a matrix, a matrix of
// the initial snapshot, or the snapshot's end.
#ifndef MATCACHE_WATCH_EVENT_H_
#define MATCACHE_WATCH_EVENT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "matcache/change_reason.h"
#include "matcache/matrix_info.h"

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
  // The change's place in the server's commit order, one more for each
  // change since it started; for the snapshot and its end, the last change
  // the snapshot reflects.
  uint64_t sequence = 0;
  // The version published, as Info described it then (kPut only).
  MatrixInfo info;
};

}  // namespace matcache

#endif  // MATCACHE_WATCH_EVENT_H_
