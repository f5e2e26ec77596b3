// What kind of filesystem holds a directory, read from /proc/mounts.
#ifndef MATCACHE_SERVER_CORE_STORAGE_MOUNT_INFO_H_
#define MATCACHE_SERVER_CORE_STORAGE_MOUNT_INFO_H_

#include <string>

#include "absl/strings/string_view.h"

namespace matcache {

struct MountInfo {
  std::string mount_point;  // empty if not found
  std::string fs_type;      // e.g. "tmpfs"
  // tmpfs huge page policy: "never", "always", "within_size" or "advise";
  // "never" for other filesystems and tmpfs mounted without huge=.
  std::string huge_pages = "never";
};

// Whether files written into `mount` get huge pages without asking for them
// by madvise: a tmpfs with huge=always or within_size.
bool GivesHugePages(const MountInfo& mount);

// Finds the mount holding the canonical absolute path `dir` in the text of
// /proc/mounts (`mounts_table`): the entry with the longest mount point that
// is `dir` or a parent of it.
MountInfo FindMount(absl::string_view mounts_table, absl::string_view dir);

// FindMount over this process's /proc/mounts; an empty MountInfo if it
// cannot be read.
MountInfo MountInfoOf(absl::string_view dir);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_MOUNT_INFO_H_
