// The access token a server without token files needs on its TCP listeners
// (see AccessPolicy::TcpOnly): generated once, kept in a file beside its
// unix socket so that clients that may read the file use it, and kept
// across restarts.
#ifndef MATCACHE_SERVER_ACCESS_ACCESS_TOKEN_H_
#define MATCACHE_SERVER_ACCESS_ACCESS_TOKEN_H_

#include <sys/types.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace matcache {

// Returns the token in `path`, or, if there is no such file, a new random
// one (64 hex digits) written there (aside, fsync, rename). Either way the
// file ends with mode 0600, or 0640 and `group`. FAILED_PRECONDITION if
// `path` is not a regular file of this process's user with one link that
// no other user may write, or holds no token of ours (remove it); errors of
// the system calls otherwise.
absl::StatusOr<std::string> LoadOrCreateAccessToken(const std::string& path,
                                                    std::optional<gid_t> group);

}  // namespace matcache

#endif  // MATCACHE_SERVER_ACCESS_ACCESS_TOKEN_H_
