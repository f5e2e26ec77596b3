// Splitting a range of work items across threads.
#ifndef MATCACHE_SERVER_CORE_BASE_PARALLEL_H_
#define MATCACHE_SERVER_CORE_BASE_PARALLEL_H_

#include <cstddef>

#include "absl/functional/function_ref.h"

namespace matcache {

// Calls `part(first, last)` for consecutive, non-empty ranges that together
// cover [0, count): at most `threads` of them (at least one thread), each on
// its own thread, the first on the caller's. Returns once all have
// returned. Nothing is called when `count` is 0.
void RunInParts(size_t count, int threads,
                absl::FunctionRef<void(size_t first, size_t last)> part);

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_PARALLEL_H_
