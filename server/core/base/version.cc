#include "server/core/base/version.h"

namespace matcache {

absl::string_view Version() { return MATCACHE_VERSION; }

}  // namespace matcache
