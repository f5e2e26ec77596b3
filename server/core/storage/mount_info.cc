#include "server/core/storage/mount_info.h"

#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace matcache {
namespace {

bool Contains(absl::string_view mount_point, absl::string_view dir) {
  if (mount_point == "/") return true;
  return dir == mount_point ||
         (absl::StartsWith(dir, mount_point) && dir.size() > mount_point.size() &&
          dir[mount_point.size()] == '/');
}

}  // namespace

MountInfo FindMount(absl::string_view mounts_table, absl::string_view dir) {
  MountInfo best;
  for (absl::string_view line : absl::StrSplit(mounts_table, '\n')) {
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (fields.size() < 4) continue;
    const absl::string_view mount_point = fields[1];
    if (!Contains(mount_point, dir) ||
        mount_point.size() < best.mount_point.size()) {
      continue;
    }
    best = MountInfo();
    best.mount_point = std::string(mount_point);
    best.fs_type = std::string(fields[2]);
    if (best.fs_type != "tmpfs") continue;
    for (absl::string_view option : absl::StrSplit(fields[3], ',')) {
      if (absl::ConsumePrefix(&option, "huge=")) {
        best.huge_pages = std::string(option);
      }
    }
  }
  return best;
}

bool GivesHugePages(const MountInfo& mount) {
  return mount.fs_type == "tmpfs" &&
         (mount.huge_pages == "always" || mount.huge_pages == "within_size");
}

MountInfo MountInfoOf(absl::string_view dir) {
  std::ifstream file("/proc/mounts");
  if (!file) return MountInfo();
  std::stringstream table;
  table << file.rdbuf();
  return FindMount(table.str(), dir);
}

}  // namespace matcache
