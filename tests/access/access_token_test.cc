#include "server/access/access_token.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

class AccessTokenTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() + "/access.token"; }
  static mode_t ModeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }

  testing::ScopedTempDir dir_;
};

TEST_F(AccessTokenTest, MadeOnceThenKeptAcrossRestarts) {
  absl::StatusOr<std::string> made = LoadOrCreateAccessToken(path(), std::nullopt);
  ASSERT_TRUE(made.ok()) << made.status();
  EXPECT_EQ(made->size(), 64u);
  EXPECT_EQ(made->find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_EQ(ModeOf(path()), 0600u);
  absl::StatusOr<std::string> again = LoadOrCreateAccessToken(path(), std::nullopt);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *made);
  // Another directory, another token.
  testing::ScopedTempDir other;
  absl::StatusOr<std::string> elsewhere =
      LoadOrCreateAccessToken(other.path() + "/access.token", std::nullopt);
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.status();
  EXPECT_NE(*elsewhere, *made);
}

TEST_F(AccessTokenTest, TheGroupMayReadItAndNoOneElse) {
  ASSERT_TRUE(LoadOrCreateAccessToken(path(), getegid()).ok());
  EXPECT_EQ(ModeOf(path()), 0640u);
  // A later run without a group takes the group's access away.
  ASSERT_TRUE(LoadOrCreateAccessToken(path(), std::nullopt).ok());
  EXPECT_EQ(ModeOf(path()), 0600u);
}

TEST_F(AccessTokenTest, RefusesWhatItDidNotMake) {
  ASSERT_EQ(symlink("/etc/passwd", path().c_str()), 0);
  EXPECT_FALSE(LoadOrCreateAccessToken(path(), std::nullopt).ok());
  ASSERT_EQ(unlink(path().c_str()), 0);

  std::ofstream(path()) << "not a token\n";
  absl::StatusOr<std::string> garbage = LoadOrCreateAccessToken(path(), std::nullopt);
  EXPECT_TRUE(absl::IsFailedPrecondition(garbage.status())) << garbage.status();
  ASSERT_EQ(unlink(path().c_str()), 0);

  ASSERT_TRUE(LoadOrCreateAccessToken(path(), std::nullopt).ok());
  ASSERT_EQ(chmod(path().c_str(), 0666), 0);
  absl::StatusOr<std::string> writable = LoadOrCreateAccessToken(path(), std::nullopt);
  EXPECT_TRUE(absl::IsFailedPrecondition(writable.status())) << writable.status();
  ASSERT_EQ(unlink(path().c_str()), 0);

  ASSERT_EQ(mkfifo(path().c_str(), 0600), 0);
  EXPECT_TRUE(absl::IsFailedPrecondition(
      LoadOrCreateAccessToken(path(), std::nullopt).status()));
}

}  // namespace
}  // namespace matcache
