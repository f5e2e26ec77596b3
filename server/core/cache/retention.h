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
#include <utility>
#include <vector>

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

// RetentionBook: the retention of each published matrix (default ones are
// not kept), and the retention file at `path` that records them. Changes
// are written by Write, so that several are written at once. Not
// thread-safe: Store guards it with its mutex.
class RetentionBook {
 public:
  // `table`: what the file holds, of the matrices still published.
  RetentionBook(std::string path, RetentionTable table)
      : path_(std::move(path)), table_(std::move(table)) {}

  // The retention of `name`; default if none.
  Retention Get(const std::string& name) const;
  // Sets (or, if default, forgets) the retention of `name`.
  void Set(const std::string& name, const Retention& retention);
  // Sets `name` back to `before` after a failed Write, which then has
  // nothing left to write.
  void Undo(const std::string& name, const Retention& before);
  // Rewrites the file if anything changed since the last Write:
  // WriteRetentionTable's errors (the changes stay to be written).
  absl::Status Write();

  // The names whose retention expired before `now`, in name order.
  std::vector<std::string> ExpiredBefore(absl::Time now) const;

 private:
  const std::string path_;
  RetentionTable table_;
  bool dirty_ = false;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_RETENTION_H_
