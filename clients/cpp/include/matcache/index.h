// Index: numpy basic indexing of one dimension, as reads take it.
#ifndef MATCACHE_INDEX_H_
#define MATCACHE_INDEX_H_

#include <cstdint>
#include <optional>

namespace matcache {

// The index of one dimension: a position (drops the dimension) or a slice
// (keeps it). Unset slice bounds take numpy's defaults.
struct Index {
  static Index At(int64_t position) { return Index{position, {}, {}, {}, false}; }
  static Index Slice(std::optional<int64_t> start, std::optional<int64_t> stop,
                     std::optional<int64_t> step) {
    return Index{0, start, stop, step, true};
  }
  static Index All() { return Slice({}, {}, {}); }

  int64_t at = 0;
  std::optional<int64_t> start;
  std::optional<int64_t> stop;
  std::optional<int64_t> step;
  bool is_slice = false;
};

}  // namespace matcache

#endif  // MATCACHE_INDEX_H_
