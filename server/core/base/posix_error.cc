#include "server/core/base/posix_error.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace matcache {

absl::Status PosixError(int error_number, absl::string_view operation,
                        absl::string_view path) {
  // A symlink where O_NOFOLLOW forbids one: the file system is not as it
  // must be (Abseil would say UNKNOWN).
  const absl::StatusCode code = error_number == ELOOP
                                    ? absl::StatusCode::kFailedPrecondition
                                    : absl::ErrnoToStatusCode(error_number);
  // Not absl::ErrnoToStatus, which appends strerror itself.
  return absl::Status(
      code, absl::StrCat(operation, " ", path, ": ", std::strerror(error_number)));
}

}  // namespace matcache
