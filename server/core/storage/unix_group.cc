#include "server/core/storage/unix_group.h"

#include <grp.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/base/posix_error.h"

namespace matcache {
namespace {

bool IsMember(gid_t group) {
  if (geteuid() == 0 || getegid() == group) return true;
  const int count = getgroups(0, nullptr);
  if (count <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  const int listed = getgroups(count, groups.data());
  if (listed < 0) return false;
  groups.resize(static_cast<size_t>(listed));
  return std::find(groups.begin(), groups.end(), group) != groups.end();
}

}  // namespace

absl::StatusOr<gid_t> LookUpOwnGroup(const std::string& name) {
  struct group entry;
  struct group* found = nullptr;
  std::vector<char> buffer(16384);
  int error;
  while ((error = getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(),
                             &found)) == ERANGE) {
    buffer.resize(buffer.size() * 2);
  }
  if (error != 0) return PosixError(error, "look up group", name);
  if (found == nullptr) {
    return absl::NotFoundError(absl::StrCat("there is no group \"", name, "\""));
  }
  if (!IsMember(found->gr_gid)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "this server's user is not a member of group \"", name,
        "\", so it cannot give its files to that group"));
  }
  return found->gr_gid;
}

}  // namespace matcache
