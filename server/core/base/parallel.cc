#include "server/core/base/parallel.h"

#include <algorithm>
#include <thread>
#include <vector>

namespace matcache {

void RunInParts(size_t count, int threads,
                absl::FunctionRef<void(size_t first, size_t last)> part) {
  if (count == 0) return;
  const size_t parts =
      std::clamp<size_t>(static_cast<size_t>(std::max(threads, 1)), 1, count);
  std::vector<std::thread> helpers;
  helpers.reserve(parts - 1);
  for (size_t p = 1; p < parts; ++p) {
    helpers.emplace_back(part, count * p / parts, count * (p + 1) / parts);
  }
  part(0, count / parts);
  for (std::thread& helper : helpers) helper.join();
}

}  // namespace matcache
