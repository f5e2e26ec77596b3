// matcached's cache policy flags (see flags.h).
#include <sys/statvfs.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/format/byte_size.h"
#include "server/matcached/flags.h"

ABSL_FLAG(std::string, max_bytes, "",
          "Memory budget for all segment files (published and staging), in "
          "bytes, with an optional K, M, G or T suffix (powers of 1024). Empty: "
          "half the size of the shm_dir filesystem at start; 0: no budget.");
ABSL_FLAG(int64_t, max_matrix_bytes, int64_t{64} << 30,
          "Largest data size of one matrix, in bytes.");
ABSL_FLAG(bool, evict_unsourced, false,
          "Let a put that does not fit the budget evict the least recently "
          "used matrices that have no source to reload them from. Matrices "
          "with a source (Load, --preload_dir, --persist_dir) may always be "
          "evicted unless pinned, and come back from it on their next access. "
          "Off by default: an evicted matrix without a source is gone.");
ABSL_FLAG(std::string, spare_bytes, "1G",
          "Largest spare file kept ready for the next put, with an optional "
          "K, M, G or T suffix: once a put is over and no other is under way, "
          "a file as large as that put (up to this size) is preallocated for "
          "the next one, which then finds its pages allocated. Made only "
          "when the budget and the filesystem have room for it and a put of "
          "its size besides; given up first when a put needs the room. 0: "
          "none.");
ABSL_FLAG(int32_t, spare_idle_seconds, 60,
          "Seconds without a put after which the spare file is given back.");
ABSL_FLAG(int32_t, lease_seconds, 60,
          "Seconds a Create's staging segment waits for Commit before it is "
          "aborted and its file removed.");

namespace matcache {
namespace {

// --max_bytes: "" means half the filesystem holding `shm_dir`.
absl::StatusOr<int64_t> BudgetFromFlag(const std::string& text,
                                       const std::string& shm_dir) {
  if (text.empty()) {
    struct statvfs fs;
    if (statvfs(shm_dir.c_str(), &fs) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot size --shm_dir ", shm_dir, ": ", strerror(errno)));
    }
    return static_cast<int64_t>(fs.f_blocks * fs.f_frsize / 2);
  }
  absl::StatusOr<int64_t> bytes = ParseByteSize(text);
  if (!bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max_bytes=", text, " is not a size such as 8G or 512M (0: none)"));
  }
  return bytes;
}

}  // namespace

absl::Status ApplyCachePolicyFlags(ServerOptions* options) {
  absl::StatusOr<int64_t> max_bytes =
      BudgetFromFlag(absl::GetFlag(FLAGS_max_bytes), options->store.shm_dir);
  if (!max_bytes.ok()) return max_bytes.status();
  options->store.max_bytes = *max_bytes;
  options->store.max_matrix_bytes = absl::GetFlag(FLAGS_max_matrix_bytes);
  if (options->store.max_matrix_bytes <= 0) {
    return absl::InvalidArgumentError("--max_matrix_bytes must be positive");
  }
  options->store.evict_unsourced = absl::GetFlag(FLAGS_evict_unsourced);
  absl::StatusOr<int64_t> spare_bytes =
      ParseByteSize(absl::GetFlag(FLAGS_spare_bytes));
  if (!spare_bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--spare_bytes=", absl::GetFlag(FLAGS_spare_bytes),
        " is not a size such as 1G or 256M (0: none)"));
  }
  options->store.spare_bytes = *spare_bytes;
  if (absl::GetFlag(FLAGS_spare_idle_seconds) <= 0) {
    return absl::InvalidArgumentError("--spare_idle_seconds must be positive");
  }
  options->store.spare_idle = absl::Seconds(absl::GetFlag(FLAGS_spare_idle_seconds));
  if (absl::GetFlag(FLAGS_lease_seconds) <= 0) {
    return absl::InvalidArgumentError("--lease_seconds must be positive");
  }
  options->service.lease = absl::Seconds(absl::GetFlag(FLAGS_lease_seconds));
  return absl::OkStatus();
}

}  // namespace matcache
