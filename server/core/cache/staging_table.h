// StagingTable: the writes begun and not yet committed or aborted, each
// with its staging segment, lease deadline, the retention its matrix will
// get, whether it is being committed and whom its file was handed to; and
// the writes whose files are still being created (counted as staging from
// the moment their bytes are).
//
// The table holds the segments; it unlinks their files only in UnlinkAll
// (callers unlink what they take out). Not thread-safe: Store guards it
// with its mutex.
#ifndef MATCACHE_SERVER_CORE_CACHE_STAGING_TABLE_H_
#define MATCACHE_SERVER_CORE_CACHE_STAGING_TABLE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "server/core/cache/retention.h"
#include "server/core/storage/segment.h"

namespace matcache {

class StagingTable {
 public:
  // A write whose file is being created, of `data_bytes`.
  void BeginCreating(int64_t data_bytes);
  // Ends BeginCreating's; `segment`, if given, is then staging as
  // `write_id`.
  void FinishCreating(int64_t data_bytes, const std::string& write_id,
                      std::shared_ptr<Segment> segment,
                      absl::Time lease_deadline, Retention retention);

  // Hands out the file of `write_id`: a new read-write descriptor (see
  // Segment::OpenForWriting), recorded as given to `uid`. Once per write:
  // FAILED_PRECONDITION if handed out before or being committed; NOT_FOUND
  // if unknown; INVALID_ARGUMENT if malformed.
  absl::StatusOr<int> HandOut(absl::string_view write_id, uid_t uid);

  // Marks `write_id` as being committed and returns its segment.
  // FAILED_PRECONDITION if it is already; NOT_FOUND or INVALID_ARGUMENT as
  // HandOut.
  absl::StatusOr<std::shared_ptr<Segment>> StartCommit(absl::string_view write_id);
  // Forgets `write_id`, being committed; returns the retention it was begun
  // with (default if unknown).
  Retention FinishCommit(absl::string_view write_id);

  // Forgets `write_id` and returns its segment, unless it is being
  // committed (FAILED_PRECONDITION); NOT_FOUND or INVALID_ARGUMENT as
  // HandOut.
  absl::StatusOr<std::shared_ptr<Segment>> Remove(absl::string_view write_id);
  // Moves the lease deadline; NOT_FOUND or INVALID_ARGUMENT as HandOut.
  absl::Status Renew(absl::string_view write_id, absl::Time lease_deadline);
  // Forgets, and returns, every write not being committed whose lease
  // deadline is before `now`.
  std::vector<std::shared_ptr<Segment>> TakeExpired(absl::Time now);

  // Unlinks every staging file and forgets them all.
  void UnlinkAll();

  // Writes being created or staging, and their data bytes.
  int64_t count() const;
  int64_t data_bytes() const;

 private:
  struct Entry {
    std::shared_ptr<Segment> segment;
    absl::Time lease_deadline;
    Retention retention;
    bool committing = false;
    // The user HandOut handed the file to, if it did.
    std::optional<uid_t> handed_to;
  };
  struct Creating {
    int64_t count = 0;
    int64_t data_bytes = 0;
  };

  absl::flat_hash_map<std::string, Entry> entries_;
  Creating creating_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_STAGING_TABLE_H_
