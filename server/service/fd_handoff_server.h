// FdHandoffServer: the server side of the fd handoff protocol (see
// server/core/storage/fd_handoff.h). Listens on one unix socket per unix gRPC
// listener and gives the caller of each Create an open descriptor of its
// staging file (Store::OpenStagingForClient), once per lease, recording the
// peer's uid (SO_PEERCRED) and logging refusals with the peer's uid and pid.
//
// One thread serves every socket with poll(): accepting never blocks, at
// most max_connections connections are open at once (more are answered
// UNAVAILABLE and closed), and a connection that has not sent its request
// within request_timeout is answered DEADLINE_EXCEEDED and closed, so a
// client that connects and sends nothing delays nobody and memory stays
// bounded.
//
// Thread-safe. `store` must outlive the server.
#ifndef MATCACHE_SERVER_SERVICE_FD_HANDOFF_SERVER_H_
#define MATCACHE_SERVER_SERVICE_FD_HANDOFF_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/core/cache/store.h"

namespace matcache {

struct FdHandoffOptions {
  // Socket paths to listen on; each must not exist (see
  // PrepareUnixSocketPath) and its directory must be ready.
  std::vector<std::string> paths;
  // Group given the sockets (mode 0660); nullopt: mode 0600.
  std::optional<gid_t> group;
  // Connections served at once.
  int max_connections = 64;
  // How long a connection may take to send its request.
  absl::Duration request_timeout = absl::Seconds(2);
};

class FdHandoffServer {
 public:
  // Binds every socket, gives it the mode and group, and starts serving.
  // The socket error (nothing left bound) if one cannot be made.
  static absl::StatusOr<std::unique_ptr<FdHandoffServer>> Start(
      Store* store, FdHandoffOptions options);

  // Shuts down if still serving.
  ~FdHandoffServer();

  FdHandoffServer(const FdHandoffServer&) = delete;
  FdHandoffServer& operator=(const FdHandoffServer&) = delete;

  // Stops the thread, closes every connection and socket and removes the
  // socket files. Idempotent.
  void Shutdown();

 private:
  struct Connection;

  FdHandoffServer(Store* store, FdHandoffOptions options,
                  std::vector<int> listeners, int wake_fd);
  void Run();
  // Accepts every pending connection of `listener`.
  void AcceptAll(int listener, std::vector<Connection>& connections);
  // Reads what `connection` sent; true once it is answered (to be closed).
  bool Serve(Connection& connection);
  // Answers `connection`'s request `lease`.
  void Answer(const Connection& connection, const std::string& lease);

  Store* const store_;
  const FdHandoffOptions options_;
  std::vector<int> listeners_;
  int wake_fd_;  // an eventfd; readable once Shutdown begins
  std::thread thread_;
  std::once_flag shutdown_once_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_FD_HANDOFF_SERVER_H_
