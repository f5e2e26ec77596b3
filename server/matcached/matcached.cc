// matcached: the matcache server. See --help for its flags.
#include <signal.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_cat.h"
#include "server/core/byte_size.h"
#include "server/core/logging.h"
#include "server/core/mount_info.h"
#include "server/core/status_macros.h"
#include "server/matcached/access_flags.h"
#include "server/service/server.h"

ABSL_FLAG(std::string, listen, "unix:/tmp/matcache/matcached.sock,127.0.0.1:7470",
          "Comma-separated addresses to serve on: unix:/ABSOLUTE/PATH for a "
          "unix socket (its directory is created if missing) and HOST:PORT "
          "for TCP (port 0 picks a free port). The default listens on "
          "loopback only.");
ABSL_FLAG(std::string, shm_dir, "/dev/shm",
          "Directory for the segment files; a tmpfs. A tmpfs mounted with "
          "huge=within_size makes puts several times faster.");
ABSL_FLAG(std::string, namespace, "matcache",
          "Prefix of every segment file name (1-64 of [A-Za-z0-9_-]); lets "
          "several servers share one shm_dir.");
ABSL_FLAG(int32_t, lease_seconds, 60,
          "Seconds a Create's staging segment waits for Commit before it is "
          "aborted and its file removed.");
ABSL_FLAG(int64_t, max_matrix_bytes, int64_t{64} << 30,
          "Largest data size of one matrix, in bytes.");
ABSL_FLAG(std::string, max_bytes, "",
          "Memory budget for all segment files (published and staging), in "
          "bytes, with an optional K, M or G suffix (powers of 1024). Empty: "
          "half the size of the shm_dir filesystem at start; 0: no budget.");
ABSL_FLAG(std::string, spare_bytes, "1G",
          "Largest spare file kept ready for the next put, with an optional "
          "K, M or G suffix: as a put begins, a file as large as that put "
          "(up to this size) is preallocated for the next one, so that its "
          "pages are allocated while this put's data is copied. Made only "
          "when the budget and the filesystem have room for it and a put of "
          "its size besides; given up first when a put needs the room. 0: "
          "none.");
ABSL_FLAG(bool, evict_unsourced, false,
          "Let a put that does not fit the budget evict the least recently "
          "used matrices. Off by default: evicted data is gone.");
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
ABSL_FLAG(int32_t, max_receive_message_bytes, 8 << 20,
          "Largest message a client may send, in bytes (Put data chunks must "
          "fit; the clients send 2 MiB).");
ABSL_FLAG(int32_t, max_streams_per_connection, 100,
          "Calls one client connection may have open at once.");
ABSL_FLAG(std::string, grpc_memory, "1G",
          "Memory gRPC may use for all connections and their buffers, with "
          "an optional K, M or G suffix.");
ABSL_FLAG(int32_t, stream_idle_seconds, 120,
          "A Put, Read or Preview stream that moves no message for this long "
          "is cancelled, releasing what it holds.");
ABSL_FLAG(int32_t, fd_request_seconds, 2,
          "A connection to an fd socket that has not sent its lease within "
          "this long is closed.");
ABSL_FLAG(int32_t, worker_threads, 4,
          "Threads for blocking work: creating, hashing and removing "
          "segments.");

namespace matcache {
namespace {

// Blocks SIGTERM and SIGINT in every thread (call before any starts) and
// returns the set, for sigwait.
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

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

absl::Status ApplyLimitFlags(ServerOptions* options) {
  options->max_receive_message_bytes =
      absl::GetFlag(FLAGS_max_receive_message_bytes);
  if (options->max_receive_message_bytes < (64 << 10)) {
    return absl::InvalidArgumentError(
        "--max_receive_message_bytes must be at least 64K");
  }
  options->max_concurrent_streams_per_connection =
      absl::GetFlag(FLAGS_max_streams_per_connection);
  if (options->max_concurrent_streams_per_connection <= 0) {
    return absl::InvalidArgumentError(
        "--max_streams_per_connection must be positive");
  }
  absl::StatusOr<int64_t> memory = ParseByteSize(absl::GetFlag(FLAGS_grpc_memory));
  if (!memory.ok() || *memory < (int64_t{16} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--grpc_memory=", absl::GetFlag(FLAGS_grpc_memory),
        " is not a size of at least 16M"));
  }
  options->grpc_memory_bytes = *memory;
  if (absl::GetFlag(FLAGS_stream_idle_seconds) <= 0) {
    return absl::InvalidArgumentError("--stream_idle_seconds must be positive");
  }
  options->stream_idle_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_stream_idle_seconds));
  if (absl::GetFlag(FLAGS_fd_request_seconds) <= 0) {
    return absl::InvalidArgumentError("--fd_request_seconds must be positive");
  }
  options->fd_handoff_timeout =
      absl::Seconds(absl::GetFlag(FLAGS_fd_request_seconds));
  return absl::OkStatus();
}

absl::StatusOr<ServerOptions> OptionsFromFlags() {
  ServerOptions options;
  absl::StatusOr<std::vector<ListenAddress>> listen =
      ParseListenAddresses(absl::GetFlag(FLAGS_listen));
  if (!listen.ok()) return listen.status();
  options.listen = *std::move(listen);
  options.store.shm_dir = absl::GetFlag(FLAGS_shm_dir);
  options.store.name_space = absl::GetFlag(FLAGS_namespace);
  options.store.max_matrix_bytes = absl::GetFlag(FLAGS_max_matrix_bytes);
  options.store.verify_on_recover = absl::GetFlag(FLAGS_verify_on_recover);
  options.store.evict_unsourced = absl::GetFlag(FLAGS_evict_unsourced);
  options.service.data_dir = absl::GetFlag(FLAGS_data_dir);
  options.preload_dir = absl::GetFlag(FLAGS_preload_dir);
  options.store.persist_dir = absl::GetFlag(FLAGS_persist_dir);
  absl::StatusOr<int64_t> max_bytes =
      BudgetFromFlag(absl::GetFlag(FLAGS_max_bytes), options.store.shm_dir);
  if (!max_bytes.ok()) return max_bytes.status();
  options.store.max_bytes = *max_bytes;
  absl::StatusOr<int64_t> spare_bytes =
      ParseByteSize(absl::GetFlag(FLAGS_spare_bytes));
  if (!spare_bytes.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--spare_bytes=", absl::GetFlag(FLAGS_spare_bytes),
        " is not a size such as 1G or 256M (0: none)"));
  }
  options.store.spare_bytes = *spare_bytes;
  if (absl::GetFlag(FLAGS_lease_seconds) <= 0) {
    return absl::InvalidArgumentError("--lease_seconds must be positive");
  }
  options.service.lease = absl::Seconds(absl::GetFlag(FLAGS_lease_seconds));
  if (options.store.max_matrix_bytes <= 0) {
    return absl::InvalidArgumentError("--max_matrix_bytes must be positive");
  }
  if (absl::GetFlag(FLAGS_worker_threads) <= 0) {
    return absl::InvalidArgumentError("--worker_threads must be positive");
  }
  options.worker_threads = absl::GetFlag(FLAGS_worker_threads);
  RETURN_IF_ERROR(ApplyLimitFlags(&options));
  RETURN_IF_ERROR(ApplyAccessFlags(&options));
  return options;
}

int Run() {
  const sigset_t stop_signals = BlockStopSignals();
  // Every file is created with an explicit mode; nothing may come out wider.
  umask(077);
  absl::StatusOr<ServerOptions> options = OptionsFromFlags();
  if (!options.ok()) {
    LogError("%s", options.status().message());
    return 2;
  }
  absl::StatusOr<std::unique_ptr<MatcacheServer>> server =
      MatcacheServer::Start(*options);
  if (!server.ok()) {
    LogError("cannot start: %s", server.status().ToString());
    return 1;
  }
  const Store& store = (*server)->store();
  const MountInfo mount = MountInfoOf(store.options().shm_dir);
  LogInfo("matcached serving on %s", absl::StrJoin((*server)->addresses(), ", "));
  LogInfo("shm_dir %s (%s on %s, huge pages: %s), namespace %s",
          store.options().shm_dir, mount.fs_type, mount.mount_point,
          mount.huge_pages, store.options().name_space);
  const int64_t used = store.Stats().used_bytes;
  const int64_t budget = store.options().max_bytes;
  LogInfo("recovered %d matrices; budget %d bytes (%d in use)%s",
          store.recovery_report().adopted, budget, used,
          store.options().evict_unsourced ? ", evicting when full" : "");
  if (budget > 0 && used > budget) {
    LogWarning("the recovered matrices use more than --max_bytes: puts are "
               "refused until deletes (or --evict_unsourced) make room");
  }

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LogInfo("received %s; shutting down", strsignal(signal_number));
  (*server)->Shutdown();
  // Everything that matters is done: calls finished, staging files removed,
  // published segments in place. Tearing down gRPC's internals can wait
  // seconds for an idle poller thread, so skip it.
  std::fflush(stderr);
  std::_Exit(0);
}

}  // namespace
}  // namespace matcache

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "matcache server: keeps named matrices in shared-memory segments.\n"
      "Usage: matcached [--listen=ADDRESSES] [--shm_dir=DIR] [flags]");
  absl::ParseCommandLine(argc, argv);
  return matcache::Run();
}
