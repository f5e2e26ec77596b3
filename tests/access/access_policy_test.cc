#include "server/access/access_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

TEST(AccessPolicyTest, WithoutTokensEverythingIsAllowed) {
  const AccessPolicy open;
  EXPECT_TRUE(open.Check(std::nullopt, Access::kWrite, Transport::kTcp, "Put").ok());
  EXPECT_TRUE(open.Check("Bearer anything", Access::kRead, Transport::kTcp, "Info").ok());
}

TEST(AccessPolicyTest, WriteTokenGuardsWritesOnly) {
  const AccessPolicy policy("", "s3cret");
  absl::Status missing = policy.Check(std::nullopt, Access::kWrite, Transport::kTcp, "Delete");
  EXPECT_TRUE(absl::IsUnauthenticated(missing)) << missing;
  EXPECT_THAT(missing.message(), HasSubstr("Delete needs this server's write token"));
  absl::Status wrong = policy.Check("Bearer s3cre", Access::kWrite, Transport::kTcp, "Delete");
  EXPECT_TRUE(absl::IsPermissionDenied(wrong)) << wrong;
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check("Bearer s3cret2", Access::kWrite, Transport::kTcp, "Delete")));
  EXPECT_TRUE(policy.Check("Bearer s3cret", Access::kWrite, Transport::kTcp, "Delete").ok());
  EXPECT_TRUE(policy.Check(std::nullopt, Access::kRead, Transport::kTcp, "Info").ok());
}

TEST(AccessPolicyTest, TokenMustComeAsBearer) {
  const AccessPolicy policy("", "s3cret");
  EXPECT_TRUE(absl::IsUnauthenticated(
      policy.Check("s3cret", Access::kWrite, Transport::kTcp, "Put")));
  EXPECT_TRUE(absl::IsUnauthenticated(
      policy.Check("Basic s3cret", Access::kWrite, Transport::kTcp, "Put")));
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check("Bearer ", Access::kWrite, Transport::kTcp, "Put")));
}

TEST(AccessPolicyTest, TheSchemeIsCaseInsensitiveAndMaySpaceTheToken) {
  const AccessPolicy policy("", "s3cret");
  const AccessPolicy tcp = AccessPolicy::TcpOnly("s3cret", "/run/x/access.token");
  for (const char* sent : {"bearer s3cret", "BEARER s3cret", "bEaReR s3cret",
                           "Bearer   s3cret"}) {
    EXPECT_TRUE(policy.Check(sent, Access::kWrite, Transport::kTcp, "Put").ok()) << sent;
    EXPECT_TRUE(tcp.Check(sent, Access::kWrite, Transport::kTcp, "Put").ok()) << sent;
  }
  for (const char* sent : {"Bearers3cret", "Bearer", "Bearer\ts3cret", " Bearer s3cret"}) {
    EXPECT_TRUE(absl::IsUnauthenticated(
        policy.Check(sent, Access::kWrite, Transport::kTcp, "Put"))) << sent;
    EXPECT_TRUE(absl::IsUnauthenticated(
        tcp.Check(sent, Access::kWrite, Transport::kTcp, "Put"))) << sent;
  }
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check("bearer S3CRET", Access::kWrite, Transport::kTcp, "Put")));
}

TEST(AccessPolicyTest, ReadTokenGuardsReadsAndWriteTokenOpensThem) {
  const AccessPolicy policy("reader", "writer");
  EXPECT_TRUE(absl::IsUnauthenticated(
      policy.Check(std::nullopt, Access::kRead, Transport::kTcp, "Read")));
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check("Bearer nobody", Access::kRead, Transport::kTcp, "Read")));
  EXPECT_TRUE(policy.Check("Bearer reader", Access::kRead, Transport::kTcp, "Read").ok());
  EXPECT_TRUE(policy.Check("Bearer writer", Access::kRead, Transport::kTcp, "Read").ok());
  // The read token does not open writes.
  EXPECT_TRUE(absl::IsPermissionDenied(
      policy.Check("Bearer reader", Access::kWrite, Transport::kTcp, "Put")));
}

TEST(AccessPolicyTest, TcpOnlyTokenGuardsEveryTcpCallAndNoUnixCall) {
  const AccessPolicy policy = AccessPolicy::TcpOnly("t0ken", "/run/x/access.token");
  EXPECT_FALSE(policy.has_tokens());
  for (const Access access : {Access::kRead, Access::kWrite}) {
    EXPECT_TRUE(policy.Check(std::nullopt, access, Transport::kUnixSocket, "Info").ok());
    absl::Status missing = policy.Check(std::nullopt, access, Transport::kTcp, "Info");
    EXPECT_TRUE(absl::IsUnauthenticated(missing)) << missing;
    EXPECT_THAT(missing.message(), HasSubstr("/run/x/access.token"));
    EXPECT_TRUE(absl::IsPermissionDenied(
        policy.Check("Bearer t0ke", access, Transport::kTcp, "Info")));
    EXPECT_TRUE(policy.Check("Bearer t0ken", access, Transport::kTcp, "Info").ok());
  }
}

TEST(AccessPolicyTest, TokenFilesApplyOnUnixSocketsToo) {
  const AccessPolicy policy("", "s3cret");
  EXPECT_TRUE(policy.has_tokens());
  EXPECT_TRUE(absl::IsUnauthenticated(
      policy.Check(std::nullopt, Access::kWrite, Transport::kUnixSocket, "Put")));
}

class TokenFileTest : public ::testing::Test {
 protected:
  std::string Write(const std::string& contents, mode_t mode) {
    const std::string path = dir_.path() + "/token";
    unlink(path.c_str());
    std::ofstream(path) << contents;
    chmod(path.c_str(), mode);
    return path;
  }

  testing::ScopedTempDir dir_;
};

TEST_F(TokenFileTest, ReadsTheTokenWithoutSurroundingWhitespace) {
  absl::StatusOr<std::string> token = ReadTokenFile(Write("  abc-123\n", 0600));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "abc-123");
  // Group-readable is allowed: a group of writers may share it.
  EXPECT_TRUE(ReadTokenFile(Write("abc", 0640)).ok());
}

TEST_F(TokenFileTest, RefusesFilesEveryUserCanRead) {
  absl::Status status = ReadTokenFile(Write("abc", 0644)).status();
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_THAT(status.message(), HasSubstr("every user"));
}

TEST_F(TokenFileTest, RefusesEmptyAndSpacedTokens) {
  EXPECT_THAT(ReadTokenFile(Write(" \n", 0600)).status().message(),
              HasSubstr("holds no token"));
  EXPECT_THAT(ReadTokenFile(Write("two words", 0600)).status().message(),
              HasSubstr("whitespace"));
}

TEST_F(TokenFileTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  const std::string path = dir_.path() + "/fifo";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  EXPECT_TRUE(absl::IsInvalidArgument(ReadTokenFile(path).status()));
}

TEST_F(TokenFileTest, MissingFileAndDirectoryAreErrors) {
  EXPECT_TRUE(absl::IsNotFound(ReadTokenFile(dir_.path() + "/absent").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ReadTokenFile(dir_.path()).status()));
}

}  // namespace
}  // namespace matcache
