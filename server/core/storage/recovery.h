// Recovery of a store's segments from the files alone
// (docs/architecture.md §5 rule 4).
#ifndef MATCACHE_SERVER_CORE_STORAGE_RECOVERY_H_
#define MATCACHE_SERVER_CORE_STORAGE_RECOVERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/storage/segment.h"

namespace matcache {

struct RecoveryReport {
  int64_t adopted = 0;             // names re-adopted (one segment each)
  int64_t staging_removed = 0;     // staging files deleted
  int64_t spares_removed = 0;      // spare files deleted
  int64_t superseded_removed = 0;  // older valid generations deleted
  int64_t quarantined = 0;         // corrupt files renamed aside
};

struct RecoveredSegments {
  std::vector<Segment> segments;  // the newest valid generation of each name
  uint64_t max_number = 0;        // highest generation or sequence seen
  RecoveryReport report;
};

// Scans `dir` for the segment files of `name_space` and:
//  - deletes every staging and spare file;
//  - for each name, adopts the newest generation that opens and validates
//    (with `verify`), deletes the older valid generations, and renames each
//    corrupt one aside (QuarantineFileName) with a log line;
//  - leaves files it does not recognize, cannot open for another reason
//    than corruption, or that are not read-only single-link files of this
//    process's user, untouched (logged).
// Running it again on its own result changes nothing, so a crash during
// recovery is repaired by the next run. Errors only if `dir` cannot be read.
absl::StatusOr<RecoveredSegments> RecoverSegments(const std::string& dir,
                                                  absl::string_view name_space,
                                                  Segment::Verify verify);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_RECOVERY_H_
