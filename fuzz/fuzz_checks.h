// Invariants the fuzzers check, shared between them. A broken one aborts,
// which libFuzzer reports as a crash with the input that caused it.
#ifndef MATCACHE_FUZZ_FUZZ_CHECKS_H_
#define MATCACHE_FUZZ_FUZZ_CHECKS_H_

#include <cstdint>
#include <cstdlib>

#include "server/core/array/slice.h"

namespace matcache_fuzz {

inline void Check(bool condition) {
  if (!condition) std::abort();
}

// Each position `dim` selects lies in [0, length).
inline void CheckInBounds(const matcache::DimSelection& dim, int64_t length) {
  Check(dim.count >= 0 && dim.count <= length);
  if (dim.count == 0) return;
  const __int128 last = static_cast<__int128>(dim.start) +
                        static_cast<__int128>(dim.count - 1) * dim.step;
  Check(dim.start >= 0 && dim.start < length && last >= 0 && last < length);
  if (!dim.keep) Check(dim.count == 1);
}

}  // namespace matcache_fuzz

#endif  // MATCACHE_FUZZ_FUZZ_CHECKS_H_
