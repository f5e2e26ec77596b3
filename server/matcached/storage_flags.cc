// matcached's storage flags (see flags.h).
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "server/matcached/flags.h"

ABSL_FLAG(std::string, shm_dir, "/dev/shm",
          "Directory for the segment files; a tmpfs. A tmpfs mounted with "
          "huge=within_size makes puts several times faster.");
ABSL_FLAG(std::string, namespace, "matcache",
          "Prefix of every segment file name (1-16 of [A-Za-z0-9_-]); lets "
          "several servers share one shm_dir.");
ABSL_FLAG(int32_t, lock_wait_seconds, 10,
          "Seconds to wait at start for another server that holds the "
          "namespace (one still exiting, as in a restart) to release it.");
ABSL_FLAG(std::string, data_dir, "",
          "Directory whose .npy files the Load RPC may make sources of "
          "matrices (paths must resolve inside it). Empty: Load is refused.");
ABSL_FLAG(std::string, preload_dir, "",
          "At start, every *.npy file here becomes the source of a matrix "
          "named after its stem, read on first access.");
ABSL_FLAG(std::string, persist_dir, "",
          "Directory (on disk) where every published matrix is also written, "
          "as NAME.npy, in the background; after a reboot empties the tmpfs, "
          "the matrices come back from there on first access. Empty: none.");
ABSL_FLAG(bool, verify_on_recover, false,
          "At start, re-hash every segment's data and quarantine those that "
          "do not match their checksum (reads all data; off by default).");

namespace matcache {

absl::Status ApplyStorageFlags(ServerOptions* options) {
  options->store.shm_dir = absl::GetFlag(FLAGS_shm_dir);
  options->store.name_space = absl::GetFlag(FLAGS_namespace);
  if (absl::GetFlag(FLAGS_lock_wait_seconds) < 0) {
    return absl::InvalidArgumentError("--lock_wait_seconds must not be negative");
  }
  options->store.lock_wait = absl::Seconds(absl::GetFlag(FLAGS_lock_wait_seconds));
  options->service.data_dir = absl::GetFlag(FLAGS_data_dir);
  options->preload_dir = absl::GetFlag(FLAGS_preload_dir);
  options->store.persist_dir = absl::GetFlag(FLAGS_persist_dir);
  options->store.verify_on_recover = absl::GetFlag(FLAGS_verify_on_recover);
  return absl::OkStatus();
}

}  // namespace matcache
