// GET /v1/stats: what the server is and holds, as JSON, for the status
// page and for scripts.
#ifndef MATCACHE_SERVER_HTTP_STATS_JSON_H_
#define MATCACHE_SERVER_HTTP_STATS_JSON_H_

#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/core/cache/store.h"

namespace matcache {

// What does not change while the server runs.
struct ServerFacts {
  absl::Time started;
  std::string shm_dir;
  std::string fs_type;     // of shm_dir's mount, e.g. "tmpfs"
  std::string huge_pages;  // its huge page policy, e.g. "within_size"
};

// `version`, `uptime_seconds`, `shm_dir`, `fs_type`, `huge_pages`,
// `matrices`, `matrix_bytes`, `used_bytes`, `budget_bytes` (0: none),
// `shm_total_bytes`, `shm_free_bytes`, `hits`, `misses`, `evictions`,
// `expirations`, `loads`, `staging_writes`, `quarantined`.
nlohmann::json StatsJson(const StoreStats& stats, const ServerFacts& facts,
                         absl::Time now);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_STATS_JSON_H_
