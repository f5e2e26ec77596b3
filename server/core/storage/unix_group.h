// Looking up the group that is given access to segments and the socket.
#ifndef MATCACHE_SERVER_CORE_STORAGE_UNIX_GROUP_H_
#define MATCACHE_SERVER_CORE_STORAGE_UNIX_GROUP_H_

#include <sys/types.h>

#include <string>

#include "absl/status/statusor.h"

namespace matcache {

// The id of group `name`, which this process must be able to give its files
// to (root, or a member of it). NOT_FOUND if there is no such group;
// PERMISSION_DENIED if this process is not a member.
absl::StatusOr<gid_t> LookUpOwnGroup(const std::string& name);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_UNIX_GROUP_H_
