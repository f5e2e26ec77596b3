// Store: lookups, listing, deletion, expiry, pins, statistics and the
// catalogue's listeners.
#include <sys/statvfs.h>

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/base/crash_point.h"
#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"
#include "server/core/cache/store.h"
#include "server/core/format/name.h"

namespace matcache {
namespace {

absl::Status NoSuchMatrix(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("no matrix named \"", name, "\""));
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Segment>> Store::Acquire(
    absl::string_view name, uint64_t generation) const {
  RETURN_IF_ERROR(ValidateName(name));
  absl::MutexLock lock(&mu_);
  return catalogue_.Lookup(name, generation);
}

absl::StatusOr<MatrixInfo> Store::Info(absl::string_view name) const {
  RETURN_IF_ERROR(ValidateName(name));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const Segment> segment,
                   catalogue_.Lookup(name, 0));
  return DescribeLocked(std::string(name), *segment);
}

std::vector<MatrixInfo> Store::List(absl::string_view prefix,
                                    absl::string_view start_after,
                                    size_t limit) const {
  std::vector<MatrixInfo> result;
  absl::MutexLock lock(&mu_);
  const std::string from(start_after < prefix ? prefix : start_after);
  const bool inclusive = start_after < prefix;
  auto first = [&](const auto& map) {
    return inclusive ? map.lower_bound(from) : map.upper_bound(from);
  };
  // Merge, in name order, the published matrices and the unread sources.
  const Catalogue::Versions& versions = catalogue_.versions();
  const Sources::Paths& paths = sources_.paths();
  auto published = first(versions);
  auto source = first(paths);
  while (result.size() < limit) {
    while (source != paths.end() && versions.count(source->first) > 0) ++source;
    const bool has_published = published != versions.end() &&
                               absl::StartsWith(published->first, prefix);
    const bool has_source = source != paths.end() &&
                            absl::StartsWith(source->first, prefix);
    if (!has_published && !has_source) break;
    if (has_published && (!has_source || published->first < source->first)) {
      result.push_back(DescribeLocked(published->first, *published->second));
      ++published;
    } else {
      MatrixInfo unread = sources_.Unread(source->first);
      unread.name = source->first;
      unread.source = source->second;
      unread.generation = 0;
      result.push_back(std::move(unread));
      ++source;
    }
  }
  return result;
}

CatalogueSnapshot Store::Snapshot(absl::string_view prefix) const {
  CatalogueSnapshot snapshot;
  absl::MutexLock lock(&mu_);
  const Catalogue::Versions& versions = catalogue_.versions();
  for (auto it = versions.lower_bound(prefix);
       it != versions.end() && absl::StartsWith(it->first, prefix); ++it) {
    snapshot.matrices.push_back(DescribeLocked(it->first, *it->second));
  }
  snapshot.sequence = catalogue_.last_sequence();
  return snapshot;
}

absl::Status Store::Delete(absl::string_view name, uint64_t generation) {
  RETURN_IF_ERROR(ValidateName(name));
  const std::string key(name);
  std::vector<std::shared_ptr<const Segment>> removed;  // freed unlocked
  {
    absl::MutexLock lock(&mu_);
    const std::shared_ptr<const Segment> segment = catalogue_.Find(key);
    if (segment == nullptr) return NoSuchMatrix(name);
    const uint64_t current = segment->header().generation;
    if (generation != 0 && generation != current) {
      return absl::FailedPreconditionError(absl::StrCat(
          "matrix \"", name, "\" is at generation ", current, ", not ",
          generation));
    }
    absl::Status unlinked = segment->Unlink();
    CrashPoint("mid_delete");
    // A file an operator already removed by hand is as good as deleted.
    if (!unlinked.ok() && !absl::IsNotFound(unlinked)) return unlinked;
    persister_.Remove(key);
    sources_.Set(key, "");
    RemoveLocked(key, ChangeReason::kDelete, &removed);
    WriteRetentionLocked();
  }
  NotifyListeners();
  return absl::OkStatus();
}

absl::StatusOr<MatrixInfo> Store::SetPinned(absl::string_view name, bool pinned) {
  RETURN_IF_ERROR(ValidateName(name));
  const std::string key(name);
  absl::MutexLock lock(&mu_);
  const std::shared_ptr<const Segment> segment = catalogue_.Find(key);
  if (segment == nullptr) return NoSuchMatrix(name);
  const Retention before = retention_.Get(key);
  Retention retention = before;
  retention.pinned = pinned;
  retention.generation = segment->header().generation;
  retention_.Set(key, retention);
  absl::Status written = retention_.Write();
  if (!written.ok()) {
    retention_.Undo(key, before);  // not kept across a restart, so not done
    return written;
  }
  if (persister_.Meta(key) != nullptr) {
    absl::Status meta = WriteMetaLocked(key);
    if (!meta.ok()) LogWarning("persist: %s", meta.message());
  }
  return DescribeLocked(key, *segment);
}

int Store::DeleteExpired(absl::Time now) {
  std::vector<std::shared_ptr<const Segment>> removed;  // freed unlocked
  {
    absl::MutexLock lock(&mu_);
    for (const std::string& name : retention_.ExpiredBefore(now)) {
      const std::shared_ptr<const Segment> segment = catalogue_.Find(name);
      if (segment == nullptr) continue;
      LogInfo("\"%s\" expired; deleting it", name);
      absl::Status unlinked = segment->Unlink();
      if (!unlinked.ok()) LogWarning("expire: %s", unlinked.message());
      persister_.Remove(name);
      sources_.Set(name, "");
      RemoveLocked(name, ChangeReason::kExpiry, &removed);
    }
    WriteRetentionLocked();
  }
  if (!removed.empty()) NotifyListeners();
  return static_cast<int>(removed.size());
}

StoreStats Store::Stats() const {
  StoreStats stats;
  stats.quarantined_count = recovery_report_.quarantined;
  struct statvfs fs;
  if (statvfs(options_.shm_dir.c_str(), &fs) == 0) {
    stats.shm_dir_total_bytes = static_cast<int64_t>(fs.f_blocks * fs.f_frsize);
    stats.shm_dir_free_bytes = static_cast<int64_t>(fs.f_bavail * fs.f_frsize);
  }
  absl::MutexLock lock(&mu_);
  stats.max_bytes = budget_.max_bytes();
  stats.used_bytes = budget_.used_bytes();
  stats.peak_used_bytes = budget_.peak_used_bytes();
  stats.spare_bytes = spare_->bytes();
  stats.spare_pending = spare_->pending();
  stats.evictions = catalogue_.changes(ChangeReason::kEviction);
  stats.expirations = catalogue_.changes(ChangeReason::kExpiry);
  stats.loads = catalogue_.changes(ChangeReason::kLoad);
  stats.hits = catalogue_.hits();
  stats.misses = catalogue_.misses();
  stats.matrix_count = static_cast<int64_t>(catalogue_.versions().size());
  stats.matrix_bytes = catalogue_.data_bytes();
  stats.staging_count = staging_.count();
  stats.staging_bytes = staging_.data_bytes();
  return stats;
}

void Store::AddListener(CatalogueListener* listener) {
  absl::MutexLock lock(&mu_);
  catalogue_.AddListener(listener);
}

void Store::NotifyListeners() {
  std::vector<CatalogueChange> changes;
  bool delivering = false;
  mu_.Lock();
  while (catalogue_.TakeChanges(delivering, &changes)) {
    delivering = true;
    const std::vector<CatalogueListener*> listeners = catalogue_.listeners();
    mu_.Unlock();
    for (const CatalogueChange& change : changes) {
      for (CatalogueListener* listener : listeners) listener->OnChange(change);
    }
    changes.clear();  // releases the segments unlocked
    mu_.Lock();
  }
  mu_.Unlock();
}

MatrixInfo Store::DescribeLocked(const std::string& name,
                                 const Segment& segment) const {
  MatrixInfo info = DescribeSegment(segment);
  info.last_access = catalogue_.last_access(name);
  if (const std::string* source = sources_.Find(name)) info.source = *source;
  const Retention retention = retention_.Get(name);
  info.pinned = retention.pinned;
  info.expires = retention.expires;
  return info;
}

void Store::RemoveLocked(const std::string& name, ChangeReason reason,
                         std::vector<std::shared_ptr<const Segment>>* removed) {
  std::shared_ptr<const Segment> segment = catalogue_.Remove(name, reason);
  budget_.Release(FileBytes(*segment));
  retention_.Set(name, Retention());
  removed->push_back(std::move(segment));
}

void Store::WriteRetentionLocked() {
  absl::Status written = retention_.Write();
  if (!written.ok()) LogWarning("retention: %s", written.message());
}

}  // namespace matcache
