#include "server/core/cache/budget.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"

namespace matcache {

Budget::Budget(int64_t max_bytes, int64_t used_bytes)
    : max_bytes_(max_bytes),
      used_bytes_(used_bytes),
      peak_used_bytes_(used_bytes) {}

void Budget::Charge(int64_t bytes) {
  used_bytes_ += bytes;
  peak_used_bytes_ = std::max(peak_used_bytes_, used_bytes_);
}

absl::StatusOr<std::vector<std::string>> Budget::ChooseVictims(
    int64_t bytes, std::vector<EvictionCandidate> candidates) const {
  std::vector<std::string> victims;
  if (Fits(bytes)) return victims;
  int64_t evictable = 0;
  for (const EvictionCandidate& candidate : candidates) {
    evictable += candidate.bytes;
  }
  if (used_bytes_ - evictable + bytes > max_bytes_) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "needs %d bytes; %d of the %d-byte budget are free and eviction "
        "could free %d more",
        bytes, std::max<int64_t>(0, max_bytes_ - used_bytes_), max_bytes_,
        evictable));
  }
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const EvictionCandidate& a, const EvictionCandidate& b) {
                     return a.last_access < b.last_access;
                   });
  int64_t used = used_bytes_;
  for (EvictionCandidate& candidate : candidates) {
    if (used + bytes <= max_bytes_) break;
    used -= candidate.bytes;
    victims.push_back(std::move(candidate.name));
  }
  return victims;
}

}  // namespace matcache
