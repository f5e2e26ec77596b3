// matcached: the matcache server. See --help for its flags.
#include <signal.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"
#include "server/core/base/version.h"
#include "server/core/storage/mount_info.h"
#include "server/matcached/flags.h"
#include "server/matcached/systemd_notify.h"
#include "server/service/server.h"

namespace matcache {
namespace {

// Where matcached's own flags are defined, one file per group.
constexpr absl::string_view kFlagsDirectory = "server/matcached/";

// --help lists every flag of matcached, grouped by the file that defines
// it (the groups of flags.h), and --version prints the project's version.
void ConfigureUsage() {
  absl::FlagsUsageConfig config;
  auto ours = [](absl::string_view file) {
    return absl::StrContains(file, kFlagsDirectory);
  };
  config.contains_help_flags = ours;
  config.contains_helpshort_flags = ours;
  config.normalize_filename = [](absl::string_view file) {
    const size_t at = file.find(kFlagsDirectory);
    return std::string(at == absl::string_view::npos ? file : file.substr(at));
  };
  config.version_string = [] {
    return absl::StrCat("matcached ", Version(), "\n");
  };
  absl::SetFlagsUsageConfig(config);
}

// Blocks SIGTERM, SIGINT (stop) and SIGHUP (reload) in every thread (call
// before any starts) and returns the set, for WaitForSignal.
sigset_t BlockSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// The next of `signals`, or 0 once `timeout` has passed without one.
int WaitForSignal(const sigset_t& signals, absl::Duration timeout) {
  for (;;) {
    int received;
    if (timeout == absl::InfiniteDuration()) {
      received = sigwaitinfo(&signals, nullptr);
    } else {
      const timespec wait = absl::ToTimespec(timeout);
      received = sigtimedwait(&signals, nullptr, &wait);
    }
    if (received > 0) return received;
    if (errno == EAGAIN) return 0;
  }
}

// What systemd shows as the service's status.
std::string ServingStatus(MatcacheServer& server) {
  std::string status =
      absl::StrCat("serving ", server.store().Stats().matrix_count, " matrices on ",
                   absl::StrJoin(server.addresses(), ", "));
  if (!server.http_addresses().empty()) {
    absl::StrAppend(&status, "; HTTP on ",
                    absl::StrJoin(server.http_addresses(), ", "));
  }
  return status;
}

// SIGHUP: takes up changed token files and TLS certificates; on an error
// (a file that cannot be read), keeps those in force.
void Reload(MatcacheServer& server) {
  NotifyReloading("re-reading the token files and TLS certificates");
  ServerOptions fresh;
  absl::Status reloaded = ApplyCredentialFlags(&fresh);
  if (reloaded.ok()) {
    reloaded = server.Reload(std::move(fresh.access), std::move(fresh.tls));
  }
  if (reloaded.ok()) {
    LogInfo("SIGHUP: re-read the token files and TLS certificates");
  } else {
    LogError("SIGHUP: keeping the tokens and certificates in force: %s",
             reloaded.message());
  }
  NotifyReady(ServingStatus(server));
}

absl::StatusOr<ServerOptions> OptionsFromFlags() {
  ServerOptions options;
  RETURN_IF_ERROR(ApplyListeningFlags(&options));
  RETURN_IF_ERROR(ApplyStorageFlags(&options));
  RETURN_IF_ERROR(ApplyCachePolicyFlags(&options));
  RETURN_IF_ERROR(ApplyAccessFlags(&options));
  RETURN_IF_ERROR(ApplyLimitFlags(&options));
  return options;
}

int Run() {
  const sigset_t signals = BlockSignals();
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
  if (!(*server)->http_addresses().empty()) {
    LogInfo("HTTP gateway on %s", absl::StrJoin((*server)->http_addresses(), ", "));
  }
  if (!(*server)->access_token_file().empty()) {
    LogInfo("TCP calls need the access token in %s",
            (*server)->access_token_file());
  }
  LogInfo("shm_dir %s (%s on %s, huge pages: %s), namespace %s",
          store.options().shm_dir, mount.fs_type, mount.mount_point,
          mount.huge_pages, store.options().name_space);
  if (mount.fs_type == "tmpfs" && !GivesHugePages(mount)) {
    LogInfo("shm_dir %s has 4 KiB pages: on a tmpfs mounted with "
            "huge=within_size, puts and first reads of large matrices are "
            "2 to 3 times faster (README, Huge pages)",
            store.options().shm_dir);
  }
  if (mount.fs_type != "tmpfs") {
    LogWarning("shm_dir %s is on %s, not tmpfs: every put is written to %s's "
               "storage, and the default budget is half of it",
               store.options().shm_dir,
               mount.fs_type.empty() ? "an unknown filesystem" : mount.fs_type,
               mount.mount_point.empty() ? "its" : mount.mount_point);
  }
  const int64_t used = store.Stats().used_bytes;
  const int64_t budget = store.options().max_bytes;
  const std::string budget_text =
      budget > 0 ? absl::StrCat("budget ", budget, " bytes") : "no budget";
  LogInfo("recovered %d matrices; %s (%d bytes in use)%s",
          store.recovery_report().adopted, budget_text, used,
          store.options().evict_unsourced ? ", evicting when full" : "");
  if (budget > 0 && used > budget) {
    LogWarning("the recovered matrices use more than --max_bytes: puts are "
               "refused until deletes (or --evict_unsourced) make room");
  }

  NotifyReady(ServingStatus(**server));
  // WATCHDOG=1 as long as the store answers (it takes the store's lock).
  const absl::Duration watchdog = WatchdogInterval();
  int signal_number;
  while ((signal_number = WaitForSignal(signals, watchdog)) != SIGTERM &&
         signal_number != SIGINT) {
    if (signal_number == SIGHUP) {
      Reload(**server);
    } else {
      store.Stats();
      NotifyWatchdog();
    }
  }
  LogInfo("received %s; shutting down", strsignal(signal_number));
  NotifyStopping("shutting down: finishing the calls in progress");
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
  matcache::ConfigureUsage();
  absl::ParseCommandLine(argc, argv);
  // Debian builds Abseil without NDEBUG, so every absl::Mutex (gRPC's
  // too) would keep a lock graph for deadlock detection, a debugging aid
  // that costs a few percent of the server's CPU per call. The tests
  // keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return matcache::Run();
}
