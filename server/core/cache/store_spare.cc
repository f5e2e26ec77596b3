// Store: the spare file kept ready for the next write (StoreOptions::
// spare_bytes). One thread makes, replaces and drops it; writes take it.
#include <sys/statvfs.h>

#include <algorithm>
#include <utility>

#include "server/core/base/logging.h"
#include "server/core/cache/store.h"
#include "server/core/storage/segment_file_name.h"

namespace matcache {

std::unique_ptr<SpareFile> Store::TakeSpareLocked(int64_t bytes) {
  if (options_.spare_bytes <= 0) return nullptr;
  // A write of under half the spare's size would free more of its pages
  // than it uses (freeing costs about half as much as allocating): it
  // allocates its own.
  auto suits = [bytes](int64_t spare_size) { return bytes >= spare_size / 2; };
  if (spare_ == nullptr && spare_filling_ > 0 && suits(spare_filling_)) {
    // Begun before this write, it is ready before a new file would be; the
    // spare thread leaves it to the waiting writes.
    ++spare_takers_waiting_;
    mu_.Await(absl::Condition(
        +[](int64_t* filling) { return *filling == 0; }, &spare_filling_));
    --spare_takers_waiting_;
  }
  spare_wanted_ = std::min(bytes, options_.spare_bytes);
  last_write_ = absl::Now();
  if (spare_ == nullptr || !suits(spare_->size())) return nullptr;
  used_bytes_ -= spare_->size();
  return std::move(spare_);
}

bool Store::NoSpareLocked() const {
  return spare_ == nullptr && spare_filling_ == 0 && spare_removing_ == 0;
}

void Store::DropSpareLocked() {
  if (NoSpareLocked()) return;
  ++spare_drops_waiting_;
  spare_cancelled_.store(true);
  mu_.Await(absl::Condition(this, &Store::NoSpareLocked));
  --spare_drops_waiting_;
}

bool Store::RoomForSpareLocked(int64_t bytes) const {
  if (options_.max_bytes > 0 && used_bytes_ + 2 * bytes > options_.max_bytes) {
    return false;
  }
  struct statvfs fs;
  return statvfs(options_.shm_dir.c_str(), &fs) == 0 &&
         static_cast<int64_t>(fs.f_bavail * fs.f_frsize) >= 2 * bytes;
}

bool Store::SpareWorkPending() const {
  if (stopping_) return true;
  if (spare_drops_waiting_ > 0) return spare_ != nullptr;
  if (spare_takers_waiting_ > 0) return false;  // the new spare is theirs
  // Writes' files first: they need the room, and the free space they will
  // take is not known until they have taken it.
  return spare_wanted_ > 0 && creating_.count == 0;
}

void Store::MaintainSpare() {
  mu_.Lock();
  while (!stopping_) {
    // A ready spare goes back once no write has begun for spare_idle.
    const absl::Duration idle_left =
        spare_ != nullptr ? last_write_ + options_.spare_idle - absl::Now()
                          : absl::InfiniteDuration();
    if (!mu_.AwaitWithTimeout(absl::Condition(this, &Store::SpareWorkPending),
                              idle_left)) {
      if (spare_ != nullptr && absl::Now() - last_write_ >= options_.spare_idle) {
        RemoveSpareLocked();
      }
      continue;
    }
    if (stopping_) break;
    const int64_t wanted = std::exchange(spare_wanted_, 0);
    if (spare_ != nullptr &&
        (spare_drops_waiting_ > 0 || spare_->size() != wanted)) {
      RemoveSpareLocked();
    }
    if (wanted > 0 && spare_ == nullptr && spare_drops_waiting_ == 0 &&
        !stopping_ && RoomForSpareLocked(wanted)) {
      FillSpareLocked(wanted);
    }
  }
  if (spare_ != nullptr) RemoveSpareLocked();
  mu_.Unlock();
}

void Store::RemoveSpareLocked() {
  std::unique_ptr<SpareFile> spare = std::move(spare_);
  spare_removing_ = spare->size();
  mu_.Unlock();
  spare.reset();  // frees its pages
  mu_.Lock();
  used_bytes_ -= std::exchange(spare_removing_, 0);
}

void Store::FillSpareLocked(int64_t bytes) {
  const std::string path =
      PathOf(SpareFileName(options_.name_space, next_number_++));
  ChargeLocked(bytes);
  spare_filling_ = bytes;
  spare_cancelled_.store(false);
  mu_.Unlock();
  std::unique_ptr<SpareFile> spare;
  absl::StatusOr<SpareFile> made = SpareFile::Create(path, bytes, spare_cancelled_);
  if (made.ok()) {
    spare = std::make_unique<SpareFile>(*std::move(made));
  } else if (!absl::IsCancelled(made.status())) {
    LogWarning("spare file: %s", made.status().message());
  }
  mu_.Lock();
  if (spare != nullptr && spare_drops_waiting_ == 0 && !stopping_) {
    spare_ = std::move(spare);
  } else {
    if (spare != nullptr) {
      mu_.Unlock();
      spare.reset();  // removes the file
      mu_.Lock();
    }
    used_bytes_ -= bytes;
  }
  spare_filling_ = 0;
}

}  // namespace matcache
