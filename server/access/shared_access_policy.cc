#include "server/access/shared_access_policy.h"

#include <utility>

namespace matcache {

absl::Status SharedAccessPolicy::Check(
    std::optional<absl::string_view> authorization, Access access,
    Transport transport, absl::string_view rpc) const {
  absl::ReaderMutexLock lock(&mu_);
  return policy_.Check(authorization, access, transport, rpc);
}

void SharedAccessPolicy::Replace(AccessPolicy policy) {
  absl::MutexLock lock(&mu_);
  policy_ = std::move(policy);
}

}  // namespace matcache
