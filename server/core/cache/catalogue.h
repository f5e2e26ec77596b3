// Catalogue: the published version of each matrix name, when each was last
// published or looked up, how many lookups found a matrix, and the record
// of every change (a version published or removed, and why) for the
// listeners that follow them.
//
// The catalogue holds the segments (shared: a reader that acquired one keeps
// it after a replace or remove) and never touches their files. Not
// thread-safe: Store guards it with its mutex and delivers the recorded
// changes (TakeChanges) to the listeners outside that mutex, in the order
// they were made, each after it is visible to lookups.
#ifndef MATCACHE_SERVER_CORE_CACHE_CATALOGUE_H_
#define MATCACHE_SERVER_CORE_CACHE_CATALOGUE_H_

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "matcache/change_reason.h"
#include "server/core/cache/matrix_info.h"
#include "server/core/storage/segment.h"

namespace matcache {

struct CatalogueChange {
  ChangeReason reason;
  std::string name;
  uint64_t generation = 0;  // of the version published or removed
  // The change's place in commit order: 1 for the first change since the
  // catalogue was made, one more for each change after it.
  uint64_t sequence = 0;
  // The version published (null for a removal).
  std::shared_ptr<const Segment> segment;
  // The version published as Info described it then (empty for a removal).
  MatrixInfo info;

  bool published() const {
    return reason == ChangeReason::kPut || reason == ChangeReason::kLoad;
  }
};

// Told of every change, in the order they were made, on the thread of the
// call that made it (or of a concurrent call delivering changes already).
// It may call the store; it must return quickly.
class CatalogueListener {
 public:
  virtual ~CatalogueListener() = default;
  virtual void OnChange(const CatalogueChange& change) = 0;
};

class Catalogue {
 public:
  using Versions =
      std::map<std::string, std::shared_ptr<const Segment>, std::less<>>;

  // Adds a version found at start (recovery), last accessed `now`; no change
  // is recorded.
  void Restore(std::shared_ptr<const Segment> segment, absl::Time now);

  // The published version of `name`, or null; not counted as a lookup.
  std::shared_ptr<const Segment> Find(absl::string_view name) const;
  bool Contains(absl::string_view name) const {
    return versions_.find(name) != versions_.end();
  }

  // The published version of `name`, counted as a hit (and an access) or a
  // miss. NOT_FOUND if none; FAILED_PRECONDITION if `generation` is
  // non-zero and not the published one.
  absl::StatusOr<std::shared_ptr<const Segment>> Lookup(
      absl::string_view name, uint64_t generation) const;

  // Makes `segment` the published version of its name, described by `info`
  // (as Info describes it from now on: last accessed info.last_access), and
  // records the change with `info`; returns the version it replaces, if any.
  std::shared_ptr<const Segment> Publish(std::shared_ptr<const Segment> segment,
                                         ChangeReason reason, MatrixInfo info);

  // Removes the published version of `name` (which must exist) and records
  // the change; returns it.
  std::shared_ptr<const Segment> Remove(absl::string_view name,
                                        ChangeReason reason);

  // When `name` was last published or looked up; InfinitePast if never.
  absl::Time last_access(absl::string_view name) const;

  // The published versions, in name order.
  const Versions& versions() const { return versions_; }
  // The sum of their data bytes.
  int64_t data_bytes() const { return data_bytes_; }

  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }
  // How many changes of `reason` were made since the start.
  int64_t changes(ChangeReason reason) const {
    return counts_[static_cast<size_t>(reason)];
  }
  // The sequence of the last change recorded; 0 before the first.
  uint64_t last_sequence() const { return last_sequence_; }

  // `listener` (not owned; it must outlive the catalogue) is told of every
  // change recorded from now on.
  void AddListener(CatalogueListener* listener);
  const std::vector<CatalogueListener*>& listeners() const { return listeners_; }

  // Delivery of the recorded changes, by one caller at a time: moves the
  // changes not delivered yet to `changes` and returns true, unless there
  // are none (which ends the delivery) or another caller is delivering
  // (`delivering` says whether the caller is that one), who delivers these
  // too.
  bool TakeChanges(bool delivering, std::vector<CatalogueChange>* changes);

 private:
  void Record(ChangeReason reason, const std::string& name,
              std::shared_ptr<const Segment> segment, uint64_t generation,
              MatrixInfo info);

  Versions versions_;
  int64_t data_bytes_ = 0;
  mutable absl::flat_hash_map<std::string, absl::Time> last_access_;
  mutable int64_t hits_ = 0;
  mutable int64_t misses_ = 0;
  std::array<int64_t, 5> counts_{};
  uint64_t last_sequence_ = 0;
  std::vector<CatalogueListener*> listeners_;
  std::vector<CatalogueChange> pending_;
  bool delivering_ = false;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_CATALOGUE_H_
