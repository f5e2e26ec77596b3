#include "server/core/posix_error.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace matcache {

absl::Status PosixError(int error_number, absl::string_view operation,
                        absl::string_view path) {
  return absl::ErrnoToStatus(
      error_number,
      absl::StrCat(operation, " ", path, ": ", std::strerror(error_number)));
}

}  // namespace matcache
