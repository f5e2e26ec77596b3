#include "server/access/access_token.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/core/storage/atomic_file.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"

namespace matcache {
namespace {

constexpr size_t kTokenBytes = 32;
constexpr size_t kTokenDigits = 2 * kTokenBytes;

// Gives the open token file its owner group and mode.
absl::Status GiveAccess(int fd, const std::string& path,
                        std::optional<gid_t> group) {
  if (fchown(fd, static_cast<uid_t>(-1), group.value_or(getegid())) != 0) {
    return PosixError(errno, "chown", path);
  }
  if (fchmod(fd, group.has_value() ? 0640 : 0600) != 0) {
    return PosixError(errno, "chmod", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadExisting(int fd, const std::string& path,
                                         std::optional<gid_t> group) {
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError(errno, "stat", path);
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
      (st.st_mode & 0022) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a file of this server's user that only it may write; "
              "remove it (a new token is made at the next start)"));
  }
  char buffer[kTokenDigits + 2];
  const ssize_t n = pread(fd, buffer, sizeof(buffer), 0);
  if (n < 0) return PosixError(errno, "read", path);
  const absl::string_view token =
      absl::StripAsciiWhitespace(absl::string_view(buffer, static_cast<size_t>(n)));
  if (token.size() != kTokenDigits ||
      token.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " holds no access token of this server; remove it (a new "
              "token is made at the next start)"));
  }
  RETURN_IF_ERROR(GiveAccess(fd, path, group));
  return std::string(token);
}

absl::StatusOr<std::string> NewToken() {
  unsigned char bytes[kTokenBytes];
  for (size_t done = 0; done < sizeof(bytes);) {
    const ssize_t n = getrandom(bytes + done, sizeof(bytes) - done, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(errno, "getrandom", "access token");
    done += static_cast<size_t>(n);
  }
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes), sizeof(bytes)));
}

absl::StatusOr<std::string> CreateNew(const std::string& path,
                                      std::optional<gid_t> group) {
  ASSIGN_OR_RETURN(const std::string token, NewToken());
  RETURN_IF_ERROR(ReplaceFile(path, token + "\n", group.has_value() ? 0640 : 0600,
                              group.value_or(getegid())));
  return token;
}

}  // namespace

absl::StatusOr<std::string> LoadOrCreateAccessToken(const std::string& path,
                                                    std::optional<gid_t> group) {
  const int fd = open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return CreateNew(path, group);
    return PosixError(errno, "open", path);
  }
  absl::StatusOr<std::string> token = ReadExisting(fd, path, group);
  close(fd);
  return token;
}

}  // namespace matcache
