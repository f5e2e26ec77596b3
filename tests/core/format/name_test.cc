#include "server/core/format/name.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

TEST(NameTest, AcceptsValidNames) {
  EXPECT_TRUE(ValidateName("prices-2024_v1.f64").ok());
  EXPECT_TRUE(ValidateName("a").ok());
  EXPECT_TRUE(ValidateName("x.").ok());
  EXPECT_TRUE(ValidateName(std::string(200, 'n')).ok());
}

TEST(NameTest, RefusesInvalidNames) {
  const std::string refused[] = {
      "",
      "../x",
      "a/b",
      ".hidden",
      std::string(201, 'n'),
      std::string("a\0b", 3),
      "a b",
      "caf\xc3\xa9",
      "..",
  };
  for (const std::string& name : refused) {
    absl::Status status = ValidateName(name);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
        << "accepted \"" << name << "\"";
  }
}

TEST(NameTest, ErrorsSayWhatIsWrong) {
  EXPECT_THAT(ValidateName("").message(), HasSubstr("empty"));
  EXPECT_THAT(ValidateName(".hidden").message(), HasSubstr("starts with '.'"));
  EXPECT_THAT(ValidateName(std::string(201, 'n')).message(),
              HasSubstr("201 characters"));
  EXPECT_THAT(ValidateName("a/b").message(), HasSubstr("position 1"));
  // A NUL byte is shown escaped, not cut off.
  EXPECT_THAT(ValidateName(std::string("a\0b", 3)).message(),
              HasSubstr("a\\000b"));
}

TEST(NameTest, NamespacesHaveNoDots) {
  EXPECT_TRUE(ValidateNamespace("matcache").ok());
  EXPECT_TRUE(ValidateNamespace("team_a-1").ok());
  for (const char* name_space : {"", "a.b", "a/b", ".."}) {
    EXPECT_EQ(ValidateNamespace(name_space).code(),
              absl::StatusCode::kInvalidArgument)
        << name_space;
  }
  EXPECT_FALSE(ValidateNamespace(std::string(65, 'n')).ok());
}

}  // namespace
}  // namespace matcache
