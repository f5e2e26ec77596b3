#include "server/core/base/crash_point.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace matcache {
namespace {

// Runs CrashPoint(`reached`) in a child whose MATCACHE_CRASH_POINT is
// `configured`; returns the child's wait status.
int RunChild(const char* configured, const char* reached) {
  const pid_t child = fork();
  if (child == 0) {
    if (configured != nullptr) setenv("MATCACHE_CRASH_POINT", configured, 1);
    CrashPoint(reached);
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return status;
}

TEST(CrashPointTest, KillsOnlyAtTheConfiguredPoint) {
  const int killed = RunChild("mid_delete", "mid_delete");
  ASSERT_TRUE(WIFSIGNALED(killed));
  EXPECT_EQ(WTERMSIG(killed), SIGKILL);

  const int other = RunChild("mid_delete", "after_staging_create");
  ASSERT_TRUE(WIFEXITED(other));
  EXPECT_EQ(WEXITSTATUS(other), 0);

  const int unset = RunChild(nullptr, "mid_delete");
  ASSERT_TRUE(WIFEXITED(unset));
  EXPECT_EQ(WEXITSTATUS(unset), 0);
}

}  // namespace
}  // namespace matcache
