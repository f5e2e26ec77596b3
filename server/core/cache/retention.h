// Retention: how long a published matrix is kept, chosen when it is put (and
// changed by Pin/Unpin), and the file that keeps these choices across server
// restarts: <shm_dir>/<namespace>.retention, one line per matrix with a
// non-default retention, replaced atomically (written aside, then renamed).
// Each line names the generation it belongs to, so that after a crash a
// newer generation never inherits an older one's expiry.
#ifndef MATCACHE_SERVER_CORE_CACHE_RETENTION_H_
#define MATCACHE_SERVER_CORE_CACHE_RETENTION_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace matcache {

struct Retention {
  bool pinned = false;                           // never evicted
  absl::Time expires = absl::InfiniteFuture();   // deleted once past
  uint64_t generation = 0;                       // the version it applies to

  bool is_default() const { return !pinned && expires == absl::InfiniteFuture(); }
};

using RetentionTable = std::map<std::string, Retention>;

// Reads the table at `path` (see ReadOwnFile, whose errors come back); an
// absent file is an empty table. Lines that do not parse are skipped with a
// log line (the file is only a record of choices; losing one loses a pin,
// never data).
absl::StatusOr<RetentionTable> ReadRetentionTable(const std::string& path);

// Replaces the table at `path` with `table`'s non-default entries.
absl::Status WriteRetentionTable(const std::string& path,
                                 const RetentionTable& table);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_RETENTION_H_
