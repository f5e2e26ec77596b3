#include "server/core/cache/catalogue.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace matcache {

void Catalogue::Restore(std::shared_ptr<const Segment> segment, absl::Time now) {
  std::string name = segment->header().name;
  last_access_[name] = now;
  data_bytes_ += static_cast<int64_t>(segment->header().data_length);
  versions_.emplace(std::move(name), std::move(segment));
}

std::shared_ptr<const Segment> Catalogue::Find(absl::string_view name) const {
  auto it = versions_.find(name);
  return it == versions_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<const Segment>> Catalogue::Lookup(
    absl::string_view name, uint64_t generation) const {
  auto it = versions_.find(name);
  if (it == versions_.end()) {
    ++misses_;
    return absl::NotFoundError(absl::StrCat("no matrix named \"", name, "\""));
  }
  const uint64_t current = it->second->header().generation;
  if (generation != 0 && generation != current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "generation ", generation, " of \"", name, "\" is gone; the current ",
        "one is ", current));
  }
  ++hits_;
  last_access_[it->first] = absl::Now();
  return it->second;
}

std::shared_ptr<const Segment> Catalogue::Publish(
    std::shared_ptr<const Segment> segment, ChangeReason reason, MatrixInfo info) {
  const std::string& name = segment->header().name;
  const uint64_t generation = segment->header().generation;
  last_access_[name] = info.last_access;
  std::shared_ptr<const Segment>& current = versions_[name];
  std::shared_ptr<const Segment> previous = std::exchange(current, segment);
  data_bytes_ += static_cast<int64_t>(segment->header().data_length);
  if (previous != nullptr) {
    data_bytes_ -= static_cast<int64_t>(previous->header().data_length);
  }
  Record(reason, name, std::move(segment), generation, std::move(info));
  return previous;
}

std::shared_ptr<const Segment> Catalogue::Remove(absl::string_view name,
                                                 ChangeReason reason) {
  auto it = versions_.find(name);
  std::shared_ptr<const Segment> removed = std::move(it->second);
  const std::string key = it->first;
  versions_.erase(it);
  last_access_.erase(key);
  data_bytes_ -= static_cast<int64_t>(removed->header().data_length);
  Record(reason, key, nullptr, removed->header().generation, MatrixInfo());
  return removed;
}

absl::Time Catalogue::last_access(absl::string_view name) const {
  auto it = last_access_.find(name);
  return it == last_access_.end() ? absl::InfinitePast() : it->second;
}

void Catalogue::AddListener(CatalogueListener* listener) {
  listeners_.push_back(listener);
}

bool Catalogue::TakeChanges(bool delivering,
                            std::vector<CatalogueChange>* changes) {
  if (delivering_ && !delivering) return false;
  if (pending_.empty()) {
    delivering_ = false;
    return false;
  }
  delivering_ = true;
  changes->clear();
  changes->swap(pending_);
  return true;
}

void Catalogue::Record(ChangeReason reason, const std::string& name,
                       std::shared_ptr<const Segment> segment,
                       uint64_t generation, MatrixInfo info) {
  ++counts_[static_cast<size_t>(reason)];
  ++last_sequence_;
  if (listeners_.empty()) return;
  pending_.push_back(CatalogueChange{reason, name, generation, last_sequence_,
                                     std::move(segment), std::move(info)});
}

}  // namespace matcache
