#include "server/http/held_answers.h"

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/http/problem.h"

namespace matcache {

// A body moved out of its response, counted as held while it lives.
struct HeldAnswers::Body {
  Body(std::string text, std::shared_ptr<std::atomic<int64_t>> held)
      : text(std::move(text)), held(std::move(held)) {}
  ~Body() { held->fetch_sub(static_cast<int64_t>(text.size())); }

  const std::string text;
  const std::shared_ptr<std::atomic<int64_t>> held;
};

HeldAnswers::HeldAnswers(int64_t limit_bytes)
    : limit_(limit_bytes), held_(std::make_shared<std::atomic<int64_t>>(0)) {}

HttpResponse HeldAnswers::Hold(HttpResponse response) const {
  const int64_t size = static_cast<int64_t>(response.body.size());
  if (size <= static_cast<int64_t>(HttpServer::kBodyBlockBytes)) return response;
  int64_t held = held_->load();
  do {
    if (held > 0 && held + size > limit_) {
      HttpResponse refused = ProblemFor(absl::UnavailableError(absl::StrCat(
          "this answer has ", size, " bytes and the gateway already holds ", held,
          " bytes of answers their clients have not read yet, of at most ",
          limit_, " (--http_answer_memory): retry later, or ask for less")));
      refused.headers.emplace_back("Retry-After", "1");
      return refused;
    }
  } while (!held_->compare_exchange_weak(held, held + size));
  auto body = std::make_shared<const Body>(std::move(response.body), held_);
  response.body.clear();
  response.regions = {body->text};
  response.owner = std::move(body);
  return response;
}

}  // namespace matcache
