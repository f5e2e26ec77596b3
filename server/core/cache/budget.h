// Budget: the byte accounting of a store's segment files (published,
// staging and the spare, headers included) against an optional limit, and
// the choice of the least recently used matrices to evict when a write does
// not fit. Pure logic: it touches no file.
//
// Not thread-safe: Store guards it with its mutex (see store.h).
#ifndef MATCACHE_SERVER_CORE_CACHE_BUDGET_H_
#define MATCACHE_SERVER_CORE_CACHE_BUDGET_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace matcache {

// A published matrix that eviction may take.
struct EvictionCandidate {
  std::string name;
  int64_t bytes = 0;  // its file's size
  absl::Time last_access;
};

class Budget {
 public:
  // `max_bytes` 0 means no limit; `used_bytes` are counted from the start
  // (and are the first peak).
  Budget(int64_t max_bytes, int64_t used_bytes);

  // Whether `bytes` more stay within the limit.
  bool Fits(int64_t bytes) const {
    return max_bytes_ <= 0 || used_bytes_ + bytes <= max_bytes_;
  }
  // Counts `bytes` more (and the peak); every increase goes through here.
  void Charge(int64_t bytes);
  // Counts `bytes` fewer.
  void Release(int64_t bytes) { used_bytes_ -= bytes; }

  // The candidates to evict, least recently used first (ties in the order
  // given), until `bytes` more fit. RESOURCE_EXHAUSTED, saying "needs ..."
  // with how many bytes are free and how many eviction could free, if
  // evicting all of them would not make room.
  absl::StatusOr<std::vector<std::string>> ChooseVictims(
      int64_t bytes, std::vector<EvictionCandidate> candidates) const;

  int64_t max_bytes() const { return max_bytes_; }
  int64_t used_bytes() const { return used_bytes_; }
  int64_t peak_used_bytes() const { return peak_used_bytes_; }

 private:
  const int64_t max_bytes_;
  int64_t used_bytes_;
  int64_t peak_used_bytes_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_BUDGET_H_
