#include "server/http/query_numbers.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

void ExpectError(const absl::Status& status, const std::string& message) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr(message));
}

TEST(ParseWholeNumberTest, AcceptsDecimalDigits) {
  EXPECT_EQ(*ParseWholeNumber("limit", "0"), 0);
  EXPECT_EQ(*ParseWholeNumber("limit", "42"), 42);
  EXPECT_EQ(*ParseWholeNumber("limit", "007"), 7);
  EXPECT_EQ(*ParseWholeNumber("limit", "9223372036854775807"),
            std::numeric_limits<int64_t>::max());
}

TEST(ParseWholeNumberTest, RejectsAnythingElse) {
  for (const char* text :
       {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10", "abc", "-0"}) {
    absl::StatusOr<int64_t> parsed = ParseWholeNumber("limit", text);
    ASSERT_FALSE(parsed.ok()) << text;
    ExpectError(parsed.status(), "is not a whole number");
  }
  ExpectError(ParseWholeNumber("limit", "-1").status(),
              "parameter limit=\"-1\" is not a whole number");
  ExpectError(ParseWholeNumber("limit", "9223372036854775808").status(),
              "parameter limit=\"9223372036854775808\" does not fit in 64 "
              "bits");
}

TEST(ParseFiniteDoubleTest, AcceptsDecimalNumbers) {
  EXPECT_EQ(*ParseFiniteDouble("vmin", "0"), 0.0);
  EXPECT_EQ(*ParseFiniteDouble("vmin", "-1.5"), -1.5);
  EXPECT_EQ(*ParseFiniteDouble("vmin", ".5"), 0.5);
  EXPECT_EQ(*ParseFiniteDouble("vmin", "5."), 5.0);
  EXPECT_EQ(*ParseFiniteDouble("vmin", "2e-3"), 2e-3);
  EXPECT_EQ(*ParseFiniteDouble("vmin", "2E+3"), 2e3);
  EXPECT_EQ(*ParseFiniteDouble("vmin", "1.7976931348623157e308"),
            std::numeric_limits<double>::max());
  EXPECT_EQ(*ParseFiniteDouble("vmin", "4.9e-324"),
            std::numeric_limits<double>::denorm_min());
}

TEST(ParseFiniteDoubleTest, RejectsNonFiniteAndGarbage) {
  for (const char* text :
       {"", "nan", "NaN", "inf", "-inf", "infinity", "+1", "1.5x", " 1", "1 ",
        "0x10", "e5", "1e", "1e+", ".", "-", "1..2", "1,5", "--1"}) {
    absl::StatusOr<double> parsed = ParseFiniteDouble("vmax", text);
    ASSERT_FALSE(parsed.ok()) << text;
    ExpectError(parsed.status(), "is not a finite decimal number");
  }
  ExpectError(ParseFiniteDouble("vmax", "nan").status(),
              "parameter vmax=\"nan\" is not a finite decimal number");
  ExpectError(ParseFiniteDouble("vmax", "1e400").status(),
              "parameter vmax=\"1e400\" is out of the range of a double");
  ExpectError(ParseFiniteDouble("vmax", "-1e400").status(),
              "is out of the range of a double");
  ExpectError(ParseFiniteDouble("vmax", "1e-400").status(),
              "is out of the range of a double");
}

TEST(ParseBoolTest, AcceptsOneZeroTrueFalse) {
  EXPECT_TRUE(*ParseBool("pin", "1"));
  EXPECT_TRUE(*ParseBool("pin", "true"));
  EXPECT_FALSE(*ParseBool("pin", "0"));
  EXPECT_FALSE(*ParseBool("pin", "false"));
  for (const char* text : {"", "True", "FALSE", "yes", "2", " 1", "t"}) {
    absl::StatusOr<bool> parsed = ParseBool("pin", text);
    ASSERT_FALSE(parsed.ok()) << text;
    ExpectError(parsed.status(), "is not one of 1, 0, true, false");
  }
  ExpectError(ParseBool("pin", "yes").status(), "parameter pin=\"yes\"");
}

TEST(ParsePreviewShapeTest, AcceptsExtentsSeparatedByX) {
  EXPECT_THAT(*ParsePreviewShape("7"), ElementsAre(7));
  EXPECT_THAT(*ParsePreviewShape("3x4"), ElementsAre(3, 4));
  EXPECT_THAT(*ParsePreviewShape("1x2x3"), ElementsAre(1, 2, 3));
  EXPECT_THAT(*ParsePreviewShape("2147483648"), ElementsAre(int64_t{1} << 31));
  std::string most = "1";
  for (size_t i = 1; i < kMaxPreviewShapeDims; ++i) most += "x1";
  EXPECT_EQ(ParsePreviewShape(most)->size(), kMaxPreviewShapeDims);
}

TEST(ParsePreviewShapeTest, RejectsAnythingElse) {
  for (const char* text : {"", "x", "3x", "x3", "3xx4", "3X4", "3*4", "3,4",
                           "-3", "+3", "3 x4", "3.0"}) {
    absl::StatusOr<std::vector<int64_t>> parsed = ParsePreviewShape(text);
    ASSERT_FALSE(parsed.ok()) << text;
    ExpectError(parsed.status(), "for an extent; write extents separated by");
  }
  ExpectError(ParsePreviewShape("3X4").status(),
              "parameter shape=\"3X4\" has \"3X4\" for an extent");
  ExpectError(ParsePreviewShape("3x0").status(),
              "parameter shape=\"3x0\" has extent \"0\"; each must be 1 to "
              "2147483648");
  ExpectError(ParsePreviewShape("2147483649").status(), "has extent");
  ExpectError(ParsePreviewShape("99999999999999999999x1").status(),
              "has extent");
  std::string too_many = "1";
  for (size_t i = 0; i < kMaxPreviewShapeDims; ++i) too_many += "x1";
  ExpectError(ParsePreviewShape(too_many).status(),
              "has more than 32 dimensions");
}

}  // namespace
}  // namespace matcache
