// SharedAccessPolicy: the AccessPolicy in force, which a reload (SIGHUP)
// may replace while calls are being checked against it: calls checked
// after Replace returns see the new tokens, calls before it the old ones.
//
// Thread-safe.
#ifndef MATCACHE_SERVER_ACCESS_SHARED_ACCESS_POLICY_H_
#define MATCACHE_SERVER_ACCESS_SHARED_ACCESS_POLICY_H_

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/access/access_policy.h"

namespace matcache {

class SharedAccessPolicy {
 public:
  explicit SharedAccessPolicy(AccessPolicy policy) : policy_(std::move(policy)) {}

  // AccessPolicy::Check of the policy in force.
  absl::Status Check(std::optional<absl::string_view> authorization,
                     Access access, Transport transport,
                     absl::string_view rpc) const ABSL_LOCKS_EXCLUDED(mu_);

  void Replace(AccessPolicy policy) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  AccessPolicy policy_ ABSL_GUARDED_BY(mu_);
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_ACCESS_SHARED_ACCESS_POLICY_H_
