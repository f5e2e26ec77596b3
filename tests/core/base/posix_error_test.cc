#include "server/core/base/posix_error.h"

#include <cerrno>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace matcache {
namespace {

int Count(const std::string& text, const std::string& part) {
  int count = 0;
  for (size_t at = text.find(part); at != std::string::npos;
       at = text.find(part, at + 1)) {
    ++count;
  }
  return count;
}

TEST(PosixErrorTest, NamesTheOperationThePathAndTheErrorOnce) {
  const absl::Status status = PosixError(ENOENT, "open", "/x/y.npy");
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(std::string(status.message()),
            std::string("open /x/y.npy: ") + std::strerror(ENOENT));
  EXPECT_EQ(Count(std::string(status.message()), std::strerror(ENOENT)), 1);
}

TEST(PosixErrorTest, ASymlinkWhereNoneMayBeIsAFailedPrecondition) {
  EXPECT_EQ(PosixError(ELOOP, "open", "/x").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PosixError(EACCES, "open", "/x").code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(PosixError(ENOSPC, "fallocate", "/x").code(),
            absl::StatusCode::kResourceExhausted);
}

}  // namespace
}  // namespace matcache
