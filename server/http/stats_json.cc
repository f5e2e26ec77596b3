#include "server/http/stats_json.h"

#include "server/core/base/version.h"

namespace matcache {

nlohmann::json StatsJson(const StoreStats& stats, const ServerFacts& facts,
                         absl::Time now) {
  return {
      {"version", std::string(Version())},
      {"uptime_seconds", absl::ToInt64Seconds(now - facts.started)},
      {"shm_dir", facts.shm_dir},
      {"fs_type", facts.fs_type},
      {"huge_pages", facts.huge_pages},
      {"matrices", stats.matrix_count},
      {"matrix_bytes", stats.matrix_bytes},
      {"used_bytes", stats.used_bytes},
      {"budget_bytes", stats.max_bytes},
      {"shm_total_bytes", stats.shm_dir_total_bytes},
      {"shm_free_bytes", stats.shm_dir_free_bytes},
      {"hits", stats.hits},
      {"misses", stats.misses},
      {"evictions", stats.evictions},
      {"expirations", stats.expirations},
      {"loads", stats.loads},
      {"staging_writes", stats.staging_count},
      {"quarantined", stats.quarantined_count},
  };
}

}  // namespace matcache
