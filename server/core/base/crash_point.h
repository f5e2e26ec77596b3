// Crash points for fault-injection tests. Inert unless the environment
// variable MATCACHE_CRASH_POINT names a point: then the process kills itself
// with SIGKILL (as `kill -9` would: no cleanup, no destructors) the first
// time it reaches that point. The points:
//   after_staging_create       a staging file exists, nothing written
//   mid_put_data               a Put stream has written part of its data
//   after_seal_before_rename   the staging file's header is sealed
//   after_rename_before_unlink the new generation is published, the old one
//                              not yet unlinked
//   mid_recovery               recovery has handled one file of several
//   mid_delete                 a deleted matrix's file is unlinked, the
//                              catalogue not yet updated
#ifndef MATCACHE_SERVER_CORE_BASE_CRASH_POINT_H_
#define MATCACHE_SERVER_CORE_BASE_CRASH_POINT_H_

#include "absl/strings/string_view.h"

namespace matcache {

// Kills the process if `name` is the configured crash point.
void CrashPoint(absl::string_view name);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_CRASH_POINT_H_
