#include "server/core/cache/spare_pool.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "server/core/base/logging.h"

namespace matcache {

SparePool::SparePool(Options options, absl::Mutex* mu, Budget* budget)
    : options_(std::move(options)), mu_(mu), budget_(budget) {
  if (options_.max_bytes > 0) thread_ = std::thread(&SparePool::Maintain, this);
}

SparePool::~SparePool() {
  {
    absl::MutexLock lock(mu_);
    stopping_ = true;
    cancelled_.store(true);
  }
  if (thread_.joinable()) thread_.join();
}

std::unique_ptr<SpareFile> SparePool::Take(int64_t bytes) {
  mu_->AssertHeld();
  if (options_.max_bytes <= 0) return nullptr;
  // A write of under half the spare's size would free more of its pages
  // than it uses (freeing costs about half as much as allocating): it
  // allocates its own.
  auto suits = [bytes](int64_t spare_size) { return bytes >= spare_size / 2; };
  if (spare_ == nullptr && sizes_.filling > 0 && suits(sizes_.filling)) {
    // Begun before this write, it is ready before a new file would be; the
    // thread leaves it to the waiting writes.
    ++waiting_.takers;
    mu_->Await(absl::Condition(
        +[](int64_t* filling) { return *filling == 0; }, &sizes_.filling));
    --waiting_.takers;
  }
  sizes_.wanted = std::min(bytes, options_.max_bytes);
  last_take_ = absl::Now();
  if (spare_ == nullptr || !suits(spare_->size())) return nullptr;
  budget_->Release(spare_->size());
  return std::move(spare_);
}

void SparePool::GiveBack(std::unique_ptr<SpareFile> spare) {
  mu_->AssertHeld();
  if (spare == nullptr || spare_ != nullptr) return;
  budget_->Charge(spare->size());
  spare_ = std::move(spare);
}

bool SparePool::NoSpare() const {
  return spare_ == nullptr && sizes_.filling == 0 && sizes_.removing == 0;
}

void SparePool::Drop(bool keep_none) {
  mu_->AssertHeld();
  if (!NoSpare()) {
    ++waiting_.drops;
    cancelled_.store(true);
    mu_->Await(absl::Condition(this, &SparePool::NoSpare));
    --waiting_.drops;
  }
  if (keep_none) sizes_.wanted = 0;
}

int64_t SparePool::bytes() const {
  mu_->AssertHeld();
  return (spare_ != nullptr ? spare_->size() : 0) + sizes_.filling +
         sizes_.removing;
}

bool SparePool::pending() const {
  mu_->AssertHeld();
  return sizes_.wanted > 0 || sizes_.filling > 0 || sizes_.removing > 0 ||
         waiting_.drops > 0;
}

bool SparePool::RoomFor(int64_t bytes) const {
  if (!budget_->Fits(2 * bytes)) return false;
  struct statvfs fs;
  return statvfs(options_.dir.c_str(), &fs) == 0 &&
         static_cast<int64_t>(fs.f_bavail * fs.f_frsize) >= 2 * bytes;
}

bool SparePool::WorkPending() const {
  if (stopping_) return true;
  if (waiting_.drops > 0) return spare_ != nullptr;
  if (waiting_.takers > 0) return false;  // the new spare is theirs
  // Writes first (see Options::writes_in_flight).
  return sizes_.wanted > 0 && !options_.writes_in_flight();
}

void SparePool::Maintain() {
  mu_->Lock();
  while (!stopping_) {
    // A ready spare goes back once no write has begun for `idle`.
    const absl::Duration idle_left =
        spare_ != nullptr ? last_take_ + options_.idle - absl::Now()
                          : absl::InfiniteDuration();
    if (!mu_->AwaitWithTimeout(absl::Condition(this, &SparePool::WorkPending),
                               idle_left)) {
      if (spare_ != nullptr && absl::Now() - last_take_ >= options_.idle) {
        Remove();
      }
      continue;
    }
    if (stopping_) break;
    const int64_t wanted = std::exchange(sizes_.wanted, 0);
    if (spare_ != nullptr && (waiting_.drops > 0 || spare_->size() != wanted)) {
      Remove();
    }
    if (wanted > 0 && spare_ == nullptr && waiting_.drops == 0 && !stopping_ &&
        RoomFor(wanted)) {
      Fill(wanted);
    }
  }
  if (spare_ != nullptr) Remove();
  mu_->Unlock();
}

void SparePool::Remove() {
  std::unique_ptr<SpareFile> spare = std::move(spare_);
  sizes_.removing = spare->size();
  mu_->Unlock();
  spare.reset();  // frees its pages
  mu_->Lock();
  budget_->Release(std::exchange(sizes_.removing, 0));
}

void SparePool::Fill(int64_t bytes) {
  const std::string path = options_.new_path();
  budget_->Charge(bytes);
  sizes_.filling = bytes;
  cancelled_.store(false);
  mu_->Unlock();
  std::unique_ptr<SpareFile> spare;
  absl::StatusOr<SpareFile> made = SpareFile::Create(path, bytes, cancelled_);
  if (made.ok()) {
    spare = std::make_unique<SpareFile>(*std::move(made));
  } else if (!absl::IsCancelled(made.status())) {
    LogWarning("spare file: %s", made.status().message());
  }
  mu_->Lock();
  if (spare != nullptr && waiting_.drops == 0 && !stopping_) {
    spare_ = std::move(spare);
  } else {
    if (spare != nullptr) {
      mu_->Unlock();
      spare.reset();  // removes the file
      mu_->Lock();
    }
    budget_->Release(bytes);
  }
  sizes_.filling = 0;
}

}  // namespace matcache
