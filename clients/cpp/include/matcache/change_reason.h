// ChangeReason: why a matrix version was published or removed.
#ifndef MATCACHE_CHANGE_REASON_H_
#define MATCACHE_CHANGE_REASON_H_

namespace matcache {

enum class ChangeReason {
  kPut,       // published by a write without a source
  kLoad,      // published from its .npy source
  kDelete,    // removed by Delete
  kEviction,  // removed to make room in the budget
  kExpiry,    // removed when its retention ran out
};

}  // namespace matcache

#endif  // MATCACHE_CHANGE_REASON_H_
