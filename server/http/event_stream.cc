#include "server/http/event_stream.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "server/http/matrix_json.h"
#include "server/http/problem.h"
#include "server/http/query_numbers.h"
#include "server/http/query_params.h"

namespace matcache {
namespace {

// Events taken from the watcher at once, as long as they add up to less.
constexpr size_t kFillBytes = 16 << 10;

std::string Dump(const nlohmann::json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// One event in the text/event-stream format.
void AppendEvent(const WatchEvent& event, std::string* out) {
  nlohmann::json data;
  const char* type = "snapshot_complete";
  if (event.kind != WatchEvent::Kind::kSnapshotComplete) {
    const bool put = event.kind == WatchEvent::Kind::kPut;
    type = put ? "put" : "delete";
    data = {{"name", event.name},
            {"generation", event.generation},
            {"reason", ReasonName(event.reason)}};
    if (put) data["info"] = MatrixInfoJson(event.info);
  } else {
    data = nlohmann::json::object();
  }
  absl::StrAppend(out, "id: ", event.sequence, "\nevent: ", type,
                  "\ndata: ", Dump(data), "\n\n");
}

}  // namespace

// One stream: what the watcher has, formatted, handed to the connection as
// it takes it.
class EventStreams::Body : public HttpEventBody {
 public:
  explicit Body(EventStreams* streams) : streams_(streams) {}

  // Called before watcher_ goes, which waits out a wake in progress.
  ~Body() override {
    absl::MutexLock lock(&streams_->mu_);
    streams_->bodies_.erase(this);
  }

  // Before the body is handed out; the watcher may wake it already.
  void set_watcher(std::unique_ptr<Watcher> watcher) {
    watcher_ = std::move(watcher);
  }

  void Start(std::function<void()> wake) override {
    absl::MutexLock lock(&mu_);
    wake_ = std::move(wake);
  }

  int64_t Read(char* out, size_t capacity) override {
    if (sent_ == pending_.size()) {
      pending_.clear();
      sent_ = 0;
      if (ended_) return kEnd;
      Fill();
      if (pending_.empty()) return kNothingYet;
    }
    const size_t n = std::min(capacity, pending_.size() - sent_);
    std::memcpy(out, pending_.data() + sent_, n);
    sent_ += n;
    streams_->metrics_->CountSentBytes("http", static_cast<int64_t>(n));
    return static_cast<int64_t>(n);
  }

  // Has a heartbeat sent unless events go first.
  void Beat() {
    heartbeat_due_.store(true);
    Wake();
  }

  void Wake() {
    absl::MutexLock lock(&mu_);
    if (wake_) wake_();  // null until the response starts: Read comes anyway
  }

 private:
  // Formats what the watcher has into pending_, or a heartbeat if nothing.
  void Fill() {
    while (pending_.size() < kFillBytes) {
      absl::StatusOr<std::shared_ptr<const WatchEvent>> next = watcher_->Next();
      if (!next.ok()) {
        absl::StrAppend(
            &pending_, "event: error\ndata: ",
            Dump({{"grpc_code", absl::StatusCodeToString(next.status().code())},
                  {"detail", std::string(next.status().message())}}),
            "\n\n");
        ended_ = true;
        return;
      }
      if (*next == nullptr) break;  // woken when there is more
      AppendEvent(**next, &pending_);
    }
    if (heartbeat_due_.exchange(false) && pending_.empty()) {
      pending_ = ": heartbeat\n\n";
    }
  }

  EventStreams* const streams_;
  // Read's, on the connection's thread.
  std::string pending_;
  size_t sent_ = 0;
  bool ended_ = false;
  std::atomic<bool> heartbeat_due_{false};
  absl::Mutex mu_;
  std::function<void()> wake_ ABSL_GUARDED_BY(mu_);
  // Last: destroyed first, while the rest can still take a wake.
  std::unique_ptr<Watcher> watcher_;
};

EventStreams::EventStreams(WatchHub* hub, Metrics* metrics,
                           absl::Duration heartbeat)
    : hub_(hub), metrics_(metrics), heartbeat_(heartbeat) {
  beater_ = std::thread([this] { Beat(); });
}

EventStreams::~EventStreams() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  beater_.join();
}

HttpResponse EventStreams::Open(const std::map<std::string, std::string>& query) {
  QueryParams params(query);
  const std::string prefix = params.Take("prefix").value_or("");
  bool initial = false;
  if (std::optional<std::string> text = params.Take("initial")) {
    absl::StatusOr<bool> parsed = ParseBool("initial", *text);
    if (!parsed.ok()) return ProblemFor(parsed.status());
    initial = *parsed;
  }
  if (absl::Status taken = params.CheckAllTaken("prefix, initial"); !taken.ok()) {
    return ProblemFor(taken);
  }
  auto body = std::make_unique<Body>(this);
  absl::StatusOr<std::unique_ptr<Watcher>> watcher =
      hub_->Watch(prefix, initial, [woken = body.get()] { woken->Wake(); });
  if (!watcher.ok()) return ProblemFor(watcher.status());
  body->set_watcher(*std::move(watcher));
  {
    absl::MutexLock lock(&mu_);
    bodies_.insert(body.get());
  }
  HttpResponse response;
  response.content_type = "text/event-stream";
  response.headers.emplace_back("Cache-Control", "no-cache");
  response.events = std::move(body);
  return response;
}

void EventStreams::Beat() {
  absl::MutexLock lock(&mu_);
  while (!mu_.AwaitWithTimeout(absl::Condition(&stopping_), heartbeat_)) {
    for (Body* body : bodies_) body->Beat();
  }
}

}  // namespace matcache
