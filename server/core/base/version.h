// The version of matcache, set once in the top CMakeLists.txt (project()).
#ifndef MATCACHE_SERVER_CORE_BASE_VERSION_H_
#define MATCACHE_SERVER_CORE_BASE_VERSION_H_

#include "absl/strings/string_view.h"

namespace matcache {

// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
absl::string_view Version();

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_VERSION_H_
