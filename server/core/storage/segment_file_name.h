// Names of segment files in the shm directory:
//   published  <namespace>.<name>.<generation>.shm
//   staging    <namespace>.<name>.<sequence>.staging.shm
//   spare      <namespace>.<sequence>.spare.shm  (see SpareFile)
//   quarantine <original file name>.quarantined
// The namespace has no '.', and the number sits right before the suffix, so
// a file name parses back unambiguously even when the matrix name has dots.
#ifndef MATCACHE_SERVER_CORE_STORAGE_SEGMENT_FILE_NAME_H_
#define MATCACHE_SERVER_CORE_STORAGE_SEGMENT_FILE_NAME_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace matcache {

enum class SegmentFileKind { kPublished, kStaging, kSpare };

struct SegmentFileName {
  SegmentFileKind kind;
  std::string name;  // empty for a spare
  uint64_t number;   // generation (published) or sequence (staging, spare)
};

// Callers pass a validated namespace and name.
std::string PublishedFileName(absl::string_view name_space,
                              absl::string_view name, uint64_t generation);
std::string StagingFileName(absl::string_view name_space,
                            absl::string_view name, uint64_t sequence);
std::string SpareFileName(absl::string_view name_space, uint64_t sequence);
std::string QuarantineFileName(absl::string_view file_name);

// Parses a directory entry. Returns nullopt for anything that is not a
// published or staging segment of `name_space` with a valid matrix name and
// a positive number, or a spare of `name_space` with a positive number:
// such files are not the store's to touch.
std::optional<SegmentFileName> ParseSegmentFileName(
    absl::string_view name_space, absl::string_view file_name);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_SEGMENT_FILE_NAME_H_
