#include "server/http/slice_syntax.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// An Index as Python spells it, for comparisons with readable failures.
std::string Spell(const Index& index) {
  if (!index.is_slice) return std::to_string(index.at);
  auto bound = [](const std::optional<int64_t>& b) {
    return b.has_value() ? std::to_string(*b) : std::string();
  };
  return bound(index.start) + ":" + bound(index.stop) + ":" + bound(index.step);
}

std::vector<std::string> Spell(const std::vector<Index>& indices) {
  std::vector<std::string> spelled;
  for (const Index& index : indices) spelled.push_back(Spell(index));
  return spelled;
}

struct Case {
  const char* text;
  size_t ndim;
  std::vector<std::string> expected;  // each Index spelled as Spell does
};

TEST(SliceSyntaxTest, ParsesNumpyBasicIndexing) {
  const std::vector<Case> cases = {
      {"", 0, {}},
      {"", 3, {}},
      {"0", 1, {"0"}},
      {"-3", 2, {"-3"}},
      {"-0", 1, {"0"}},
      {"007", 1, {"7"}},
      {":", 1, {"::"}},
      {"::", 1, {"::"}},
      {"::2", 1, {"::2"}},
      {"1:", 1, {"1::"}},
      {":-1", 1, {":-1:"}},
      {"5:1:-1", 1, {"5:1:-1"}},
      {"1:2:", 1, {"1:2:"}},
      {"::0", 1, {"::0"}},  // step 0 is ResolveIndices' to refuse
      {"1,2", 2, {"1", "2"}},
      {"1,2", 3, {"1", "2"}},
      {"0,", 2, {"0"}},
      {"0,:,", 3, {"0", "::"}},
      {"...", 0, {}},
      {"...", 3, {"::", "::", "::"}},
      {"...,", 2, {"::", "::"}},
      {"...,::-1", 2, {"::", "::-1"}},
      {"...,::-1", 1, {"::-1"}},
      {"0,...", 3, {"0", "::", "::"}},
      {"0,...,-1", 3, {"0", "::", "-1"}},
      {"0,...,-1", 2, {"0", "-1"}},
      {"1:2,...,3,4", 5, {"1:2:", "::", "::", "3", "4"}},
      {"9223372036854775807", 1, {std::to_string(kMax)}},
      {"-9223372036854775808", 1, {std::to_string(kMin)}},
      {"-9223372036854775808:9223372036854775807:-9223372036854775808",
       1,
       {std::to_string(kMin) + ":" + std::to_string(kMax) + ":" +
        std::to_string(kMin)}},
  };
  for (const Case& c : cases) {
    absl::StatusOr<std::vector<Index>> parsed = ParseSlice(c.text, c.ndim);
    ASSERT_TRUE(parsed.ok()) << c.text << ": " << parsed.status();
    EXPECT_EQ(Spell(*parsed), c.expected) << c.text << " ndim " << c.ndim;
  }
}

TEST(SliceSyntaxTest, KeepsIntegersAndSlicesApart) {
  absl::StatusOr<std::vector<Index>> parsed = ParseSlice("4,4:", 2);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_FALSE((*parsed)[0].is_slice);
  EXPECT_EQ((*parsed)[0].at, 4);
  EXPECT_TRUE((*parsed)[1].is_slice);
  EXPECT_EQ((*parsed)[1].start, 4);
  EXPECT_FALSE((*parsed)[1].stop.has_value());
  EXPECT_FALSE((*parsed)[1].step.has_value());
}

struct ErrorCase {
  std::string text;
  size_t ndim;
  std::string message;  // a substring of the error's message
};

TEST(SliceSyntaxTest, RejectsWhatNumpyRejects) {
  const std::vector<ErrorCase> cases = {
      {"1,,2", 3, "slice \"1,,2\" has an empty item (item 2)"},
      {",", 1, "slice \",\" has an empty item (item 1)"},
      {",0", 1, "has an empty item (item 1)"},
      {"0,,", 3, "has an empty item (item 2)"},
      {"1.5", 1, "slice \"1.5\" has \"1.5\", not an integer"},
      {"a", 1, "slice \"a\" has \"a\", not an integer"},
      {"1:x", 1, "slice \"1:x\" has \"x\", not an integer"},
      {"-", 1, "has \"-\", not an integer"},
      {"--1", 1, "has \"--1\", not an integer"},
      {"+1", 1, "has \"+1\", not an integer"},
      {"1-", 1, "has \"1-\", not an integer"},
      {"0x10", 1, "has \"0x10\", not an integer"},
      {"..", 1, "has \"..\", not an integer"},
      {"....", 1, "has \"....\", not an integer"},
      {"...:", 1, "has \"...\", not an integer"},
      {"1:2:3:4", 1,
       "slice \"1:2:3:4\" has \"1:2:3:4\", more than 3 parts "
       "(start:stop:step)"},
      {":::", 1, "more than 3 parts"},
      {"...,0,...", 3, "slice \"...,0,...\" has more than one \"...\""},
      {"...,...", 3, "has more than one \"...\""},
      {"9223372036854775808", 1,
       "has \"9223372036854775808\", which does not fit in 64 bits"},
      {"-9223372036854775809:", 1,
       "has \"-9223372036854775809\", which does not fit in 64 bits"},
      {"::99999999999999999999", 1, "does not fit in 64 bits"},
      {"0,0,0", 2, "slice \"0,0,0\" has 3 indices for a 2-dimensional matrix"},
      {"0", 0, "has 1 indices for a 0-dimensional matrix"},
      {"...,0,0,0", 2, "has 3 indices for a 2-dimensional matrix"},
      {"0, 1", 2, "slice \"0, 1\" contains whitespace"},
      {" 0", 1, "contains whitespace"},
      {"0\t", 1, "slice \"0\\t\" contains whitespace"},
      {"\n", 1, "contains whitespace"},
      {std::string("0\0", 2), 1, "has \"0\\000\", not an integer"},
      {std::string(kMaxSliceTextLength + 1, ':'), 1,
       "slice has 4097 characters; at most 4096 are allowed"},
  };
  for (const ErrorCase& c : cases) {
    absl::StatusOr<std::vector<Index>> parsed = ParseSlice(c.text, c.ndim);
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message)) << c.text;
  }
}

TEST(SliceSyntaxTest, QuotesLongTextShort) {
  const std::string text = std::string(100, '1') + ",x";
  absl::StatusOr<std::vector<Index>> parsed = ParseSlice(text, 2);
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.status().message(),
              HasSubstr("slice \"" + std::string(64, '1') + "...\""));
  EXPECT_LT(parsed.status().message().size(), 300u);
}

TEST(SliceSyntaxTest, AcceptsTheLongestText) {
  // 2048 items "0," is 4096 characters.
  std::string text;
  for (int i = 0; i < 2048; ++i) text += "0,";
  ASSERT_EQ(text.size(), kMaxSliceTextLength);
  absl::StatusOr<std::vector<Index>> parsed = ParseSlice(text, 2048);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->size(), 2048u);
}

TEST(SliceSyntaxTest, ResolvesAsNumpyDoes) {
  // numpy: np.arange(24).reshape(2, 3, 4)[..., ::-2] has shape (2, 3, 2).
  absl::StatusOr<std::vector<Index>> parsed = ParseSlice("...,::-2", 3);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<std::vector<DimSelection>> selection =
      ResolveIndices({2, 3, 4}, *parsed);
  ASSERT_TRUE(selection.ok()) << selection.status();
  EXPECT_EQ(SelectedShape(*selection), (std::vector<int64_t>{2, 3, 2}));
  EXPECT_EQ((*selection)[2].start, 3);
  EXPECT_EQ((*selection)[2].step, -2);
}

}  // namespace
}  // namespace matcache
