// RETURN_IF_ERROR and ASSIGN_OR_RETURN for functions returning absl::Status
// or absl::StatusOr<T> (Abseil 20220623 ships neither).
#ifndef MATCACHE_SERVER_CORE_BASE_STATUS_MACROS_H_
#define MATCACHE_SERVER_CORE_BASE_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the calling function
// if it is not OK.
#define RETURN_IF_ERROR(expr)                                 \
  do {                                                        \
    ::absl::Status matcache_status_ = (expr);                 \
    if (!matcache_status_.ok()) return matcache_status_;      \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the calling function, otherwise moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing variable.
#define ASSIGN_OR_RETURN(lhs, rexpr)                                       \
  MATCACHE_ASSIGN_OR_RETURN_IMPL_(                                         \
      MATCACHE_STATUS_CONCAT_(matcache_statusor_, __LINE__), lhs, rexpr)

#define MATCACHE_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                    \
  if (!statusor.ok()) return std::move(statusor).status();    \
  lhs = std::move(statusor).value()

#define MATCACHE_STATUS_CONCAT_(x, y) MATCACHE_STATUS_CONCAT_IMPL_(x, y)
#define MATCACHE_STATUS_CONCAT_IMPL_(x, y) x##y

#endif  // MATCACHE_SERVER_CORE_BASE_STATUS_MACROS_H_
