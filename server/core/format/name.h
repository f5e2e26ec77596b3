// Validation of user-supplied matrix names and store namespaces. Every path
// the store builds is made of strings that passed these checks.
#ifndef MATCACHE_SERVER_CORE_FORMAT_NAME_H_
#define MATCACHE_SERVER_CORE_FORMAT_NAME_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matcache {

inline constexpr size_t kMaxNameLength = 200;

// OK if `name` has 1-200 characters of [A-Za-z0-9_.-] and does not start
// with '.'; otherwise INVALID_ARGUMENT saying what is wrong.
absl::Status ValidateName(absl::string_view name);

// OK if `name_space` has 1-16 characters of [A-Za-z0-9_-] (no '.', so it
// never collides with a name); otherwise INVALID_ARGUMENT.
absl::Status ValidateNamespace(absl::string_view name_space);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_FORMAT_NAME_H_
