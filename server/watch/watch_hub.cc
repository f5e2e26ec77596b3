#include "server/watch/watch_hub.h"

#include <algorithm>
#include <deque>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/base/logging.h"

namespace matcache {

// What one watcher has to take, guarded by its own mutex; the hub takes it
// after its own.
struct Watcher::Queue {
  Queue(std::string prefix, size_t capacity, absl::AnyInvocable<void()> wake)
      : prefix(std::move(prefix)), capacity(capacity), wake(std::move(wake)) {}

  // Queues `event` unless it is reflected in the snapshot already; false if
  // the queue is full. Sets `*wake` if the consumer waits for it.
  bool Offer(const std::shared_ptr<const WatchEvent>& event, bool* wake) {
    absl::MutexLock lock(&mu);
    *wake = false;
    if (event->sequence <= after) return true;
    if (events.size() >= capacity) return false;
    events.push_back(event);
    *wake = std::exchange(waiting, false);
    return true;
  }

  // Empties the queue: the consumer's Next says why from now on.
  void End(State ending) {
    absl::MutexLock lock(&mu);
    state = ending;
    events.clear();
    snapshot.clear();
    waiting = false;
  }

  const std::string prefix;
  const size_t capacity;
  absl::Mutex mu;
  State state ABSL_GUARDED_BY(mu) = State::kOpen;
  // The snapshot, then its end marker; the first `snapshot_sent` are sent.
  std::vector<std::shared_ptr<const WatchEvent>> snapshot ABSL_GUARDED_BY(mu);
  size_t snapshot_sent ABSL_GUARDED_BY(mu) = 0;
  // Only changes after this sequence are queued: the snapshot's.
  uint64_t after ABSL_GUARDED_BY(mu) = 0;
  std::deque<std::shared_ptr<const WatchEvent>> events ABSL_GUARDED_BY(mu);
  // Next found nothing: wake the consumer on the next event.
  bool waiting ABSL_GUARDED_BY(mu) = false;
  // Held while the wake function runs, so that Remove can wait it out.
  absl::Mutex wake_mu;
  absl::AnyInvocable<void()> wake ABSL_GUARDED_BY(wake_mu);
};

namespace {

std::shared_ptr<const WatchEvent> EventOf(const CatalogueChange& change) {
  auto event = std::make_shared<WatchEvent>();
  event->kind = change.published() ? WatchEvent::Kind::kPut
                                   : WatchEvent::Kind::kDelete;
  event->reason = change.reason;
  event->name = change.name;
  event->generation = change.generation;
  event->sequence = change.sequence;
  if (change.published()) event->info = change.info;
  return event;
}

// The snapshot as events: a kPut per matrix, then the end marker.
std::vector<std::shared_ptr<const WatchEvent>> EventsOf(
    CatalogueSnapshot snapshot) {
  std::vector<std::shared_ptr<const WatchEvent>> events;
  events.reserve(snapshot.matrices.size() + 1);
  for (MatrixInfo& info : snapshot.matrices) {
    auto event = std::make_shared<WatchEvent>();
    event->name = info.name;
    event->generation = info.generation;
    event->sequence = snapshot.sequence;
    event->info = std::move(info);
    events.push_back(std::move(event));
  }
  auto end = std::make_shared<WatchEvent>();
  end->kind = WatchEvent::Kind::kSnapshotComplete;
  end->sequence = snapshot.sequence;
  events.push_back(std::move(end));
  return events;
}

}  // namespace

Watcher::~Watcher() { hub_->Remove(queue_); }

absl::StatusOr<std::shared_ptr<const WatchEvent>> Watcher::Next() {
  absl::MutexLock lock(&queue_->mu);
  switch (queue_->state) {
    case State::kDropped:
      return absl::AbortedError(absl::StrCat(
          "this watcher fell behind: more than ", queue_->capacity,
          " events waited for it, so events were lost; list the matrices "
          "again and start a new watch"));
    case State::kClosed:
      return absl::UnavailableError("the server is shutting down");
    case State::kOpen:
      break;
  }
  if (queue_->snapshot_sent < queue_->snapshot.size()) {
    std::shared_ptr<const WatchEvent> event =
        std::move(queue_->snapshot[queue_->snapshot_sent++]);
    if (queue_->snapshot_sent == queue_->snapshot.size()) {
      queue_->snapshot = {};  // sent: its memory goes now
      queue_->snapshot_sent = 0;
    }
    return event;
  }
  if (!queue_->events.empty()) {
    std::shared_ptr<const WatchEvent> event = std::move(queue_->events.front());
    queue_->events.pop_front();
    return event;
  }
  queue_->waiting = true;
  return nullptr;
}

WatchHub::WatchHub(const Store* store, size_t queue_events)
    : store_(store), queue_events_(queue_events) {
  waker_ = std::thread([this] { WakeConsumers(); });
}

WatchHub::~WatchHub() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  waker_.join();
}

void WatchHub::OnChange(const CatalogueChange& change) {
  std::shared_ptr<const WatchEvent> event;  // made for the first taker
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < queues_.size();) {
    if (!absl::StartsWith(change.name, queues_[i]->prefix)) {
      ++i;
      continue;
    }
    if (event == nullptr) event = EventOf(change);
    bool wake = false;
    if (!queues_[i]->Offer(event, &wake)) {
      LogWarning("watch: dropping a watcher that fell %d events behind",
                 queue_events_);
      ++dropped_;
      EndLocked(i, Watcher::State::kDropped);
      continue;  // queues_[i] is another watcher now
    }
    if (wake) to_wake_.push_back(queues_[i]);
    ++i;
  }
}

absl::StatusOr<std::unique_ptr<Watcher>> WatchHub::Watch(
    std::string prefix, bool initial, absl::AnyInvocable<void()> wake) {
  auto queue =
      std::make_shared<Queue>(std::move(prefix), queue_events_, std::move(wake));
  {
    absl::MutexLock lock(&mu_);
    if (closed_) return absl::UnavailableError("the server is shutting down");
    queues_.push_back(queue);
  }
  // Registered first: every change after the snapshot reaches the queue.
  if (initial) {
    CatalogueSnapshot snapshot = store_->Snapshot(queue->prefix);
    const uint64_t sequence = snapshot.sequence;
    std::vector<std::shared_ptr<const WatchEvent>> events =
        EventsOf(std::move(snapshot));
    absl::MutexLock lock(&queue->mu);
    if (queue->state == Watcher::State::kOpen) {
      queue->after = sequence;
      // Changes queued meanwhile that the snapshot reflects already.
      queue->events.erase(
          std::remove_if(queue->events.begin(), queue->events.end(),
                         [sequence](const std::shared_ptr<const WatchEvent>& e) {
                           return e->sequence <= sequence;
                         }),
          queue->events.end());
      queue->snapshot = std::move(events);
    }
  }
  return std::unique_ptr<Watcher>(new Watcher(this, std::move(queue)));
}

void WatchHub::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
  while (!queues_.empty()) EndLocked(0, Watcher::State::kClosed);
}

WatchCounts WatchHub::counts() const {
  absl::MutexLock lock(&mu_);
  return WatchCounts{static_cast<int64_t>(queues_.size()), dropped_};
}

void WatchHub::Remove(const std::shared_ptr<Queue>& queue) {
  {
    absl::MutexLock lock(&mu_);
    auto it = std::find(queues_.begin(), queues_.end(), queue);
    if (it != queues_.end()) {
      *it = std::move(queues_.back());
      queues_.pop_back();
    }
  }
  absl::MutexLock lock(&queue->wake_mu);
  queue->wake = nullptr;
}

void WatchHub::EndLocked(size_t index, Watcher::State ending) {
  std::shared_ptr<Queue> queue = std::move(queues_[index]);
  queues_[index] = std::move(queues_.back());
  queues_.pop_back();
  queue->End(ending);
  to_wake_.push_back(std::move(queue));
}

bool WatchHub::HasWakeWork() const { return !to_wake_.empty() || stopping_; }

void WatchHub::WakeConsumers() {
  std::vector<std::shared_ptr<Queue>> batch;
  mu_.Lock();
  while (true) {
    mu_.Await(absl::Condition(this, &WatchHub::HasWakeWork));
    if (to_wake_.empty()) break;  // stopping
    batch.swap(to_wake_);
    mu_.Unlock();
    for (const std::shared_ptr<Queue>& queue : batch) {
      absl::MutexLock lock(&queue->wake_mu);
      if (queue->wake) queue->wake();
    }
    batch.clear();
    mu_.Lock();
  }
  mu_.Unlock();
}

}  // namespace matcache
