#include "server/http/held_answers.h"

#include <optional>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr size_t kBlock = HttpServer::kBodyBlockBytes;

HttpResponse WithBody(size_t bytes) {
  HttpResponse response;
  response.body = std::string(bytes, 'x');
  return response;
}

// The body a held response sends.
std::string Sent(const HttpResponse& response) {
  std::string sent;
  for (absl::string_view region : response.regions) {
    sent.append(region.data(), region.size());
  }
  return sent;
}

TEST(HeldAnswersTest, AnswersOfOneBlockOrLessPassAsTheyAre) {
  const HeldAnswers held(/*limit_bytes=*/kBlock);
  for (int i = 0; i < 3; ++i) {
    const HttpResponse passed = held.Hold(WithBody(kBlock));
    EXPECT_EQ(passed.status, 200);
    EXPECT_EQ(passed.body, std::string(kBlock, 'x'));
    EXPECT_TRUE(passed.regions.empty());
  }
}

TEST(HeldAnswersTest, LargerAnswersAreHeldUntilFreedAndRefusedPastTheLimit) {
  const HeldAnswers held(/*limit_bytes=*/3 * kBlock);
  std::optional<HttpResponse> first = held.Hold(WithBody(2 * kBlock));
  EXPECT_EQ(first->status, 200);
  EXPECT_TRUE(first->body.empty());
  EXPECT_EQ(Sent(*first), std::string(2 * kBlock, 'x'));
  EXPECT_NE(first->owner, nullptr);

  const HttpResponse refused = held.Hold(WithBody(2 * kBlock));
  EXPECT_EQ(refused.status, 503);
  EXPECT_THAT(refused.body, HasSubstr("--http_answer_memory"));
  EXPECT_THAT(refused.headers, Contains(Pair("Retry-After", "1")));
  // Small ones still pass.
  EXPECT_EQ(held.Hold(WithBody(kBlock)).status, 200);

  first.reset();  // libmicrohttpd is done with it
  const HttpResponse next = held.Hold(WithBody(2 * kBlock));
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(Sent(next).size(), 2 * kBlock);
}

TEST(HeldAnswersTest, OneAnswerLargerThanTheLimitGoesWhenAlone) {
  const HeldAnswers held(/*limit_bytes=*/2 * kBlock);
  std::optional<HttpResponse> large = held.Hold(WithBody(5 * kBlock));
  EXPECT_EQ(large->status, 200);
  EXPECT_EQ(Sent(*large).size(), 5 * kBlock);
  EXPECT_EQ(held.Hold(WithBody(kBlock + 1)).status, 503);
  large.reset();
  EXPECT_EQ(held.Hold(WithBody(kBlock + 1)).status, 200);
}

TEST(HeldAnswersTest, AHeldBodyMayOutliveTheBound) {
  std::optional<HttpResponse> response;
  {
    const HeldAnswers held(/*limit_bytes=*/4 * kBlock);
    response = held.Hold(WithBody(2 * kBlock));
  }
  EXPECT_EQ(Sent(*response), std::string(2 * kBlock, 'x'));
  response.reset();  // releases into a count that outlived the bound
}

}  // namespace
}  // namespace matcache
