#include "server/service/fd_handoff_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/core/base/logging.h"
#include "server/core/base/posix_error.h"
#include "server/core/storage/fd_handoff.h"
#include "server/service/listen_address.h"

namespace matcache {

struct FdHandoffServer::Connection {
  int fd;
  absl::Time deadline;
  ucred peer;
  std::string received;  // at most kMaxFdRequestBytes
};

namespace {

constexpr int kBacklog = 64;

// Binds and listens on a new non-blocking unix socket at `path`.
absl::StatusOr<int> Listen(const std::string& path, std::optional<gid_t> group) {
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat("fd socket path ", path, " is too long"));
  }
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return PosixError(errno, "socket", path);
  absl::Status status;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    status = PosixError(errno, "bind", path);
  } else {
    // The umask (077) leaves it the server's alone until here.
    status = SecureUnixSocket(path, group);
    if (status.ok() && listen(fd, kBacklog) != 0) {
      status = PosixError(errno, "listen", path);
    }
    if (!status.ok()) unlink(path.c_str());
  }
  if (!status.ok()) {
    close(fd);
    return status;
  }
  return fd;
}

}  // namespace

absl::StatusOr<std::unique_ptr<FdHandoffServer>> FdHandoffServer::Start(
    Store* store, FdHandoffOptions options) {
  std::vector<int> listeners;
  auto undo = [&listeners, &options] {
    for (size_t i = 0; i < listeners.size(); ++i) {
      close(listeners[i]);
      unlink(options.paths[i].c_str());
    }
  };
  for (const std::string& path : options.paths) {
    absl::StatusOr<int> listener = Listen(path, options.group);
    if (!listener.ok()) {
      undo();
      return listener.status();
    }
    listeners.push_back(*listener);
  }
  const int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd < 0) {
    const int error = errno;
    undo();
    return PosixError(error, "eventfd", "for the fd socket");
  }
  std::unique_ptr<FdHandoffServer> server(new FdHandoffServer(
      store, std::move(options), std::move(listeners), wake_fd));
  server->thread_ = std::thread([server = server.get()] { server->Run(); });
  return server;
}

FdHandoffServer::FdHandoffServer(Store* store, FdHandoffOptions options,
                                 std::vector<int> listeners, int wake_fd)
    : store_(store),
      options_(std::move(options)),
      listeners_(std::move(listeners)),
      wake_fd_(wake_fd) {}

FdHandoffServer::~FdHandoffServer() { Shutdown(); }

void FdHandoffServer::Shutdown() {
  std::call_once(shutdown_once_, [this] {
    const uint64_t one = 1;
    while (write(wake_fd_, &one, sizeof(one)) < 0 && errno == EINTR) {
    }
    if (thread_.joinable()) thread_.join();
    for (size_t i = 0; i < listeners_.size(); ++i) {
      close(listeners_[i]);
      unlink(options_.paths[i].c_str());
    }
    close(wake_fd_);
  });
}

void FdHandoffServer::Run() {
  std::vector<Connection> connections;
  std::vector<pollfd> polled;
  for (;;) {
    polled.clear();
    polled.push_back({wake_fd_, POLLIN, 0});
    for (int listener : listeners_) polled.push_back({listener, POLLIN, 0});
    int timeout_ms = -1;
    if (!connections.empty()) {
      absl::Time earliest = connections.front().deadline;
      for (const Connection& connection : connections) {
        polled.push_back({connection.fd, POLLIN, 0});
        earliest = std::min(earliest, connection.deadline);
      }
      // Rounded up, so that the deadline has passed when poll returns.
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, absl::ToInt64Milliseconds(absl::Ceil(earliest - absl::Now(),
                                                  absl::Milliseconds(1)))));
    }
    if (poll(polled.data(), polled.size(), timeout_ms) < 0 && errno != EINTR) {
      LogError("fd socket: poll: %s", std::strerror(errno));
      absl::SleepFor(absl::Milliseconds(10));
      continue;
    }
    if (polled[0].revents != 0) break;
    const absl::Time now = absl::Now();
    size_t kept = 0;
    for (size_t i = 0; i < connections.size(); ++i) {
      Connection& connection = connections[i];
      bool done = polled[1 + listeners_.size() + i].revents != 0 &&
                  Serve(connection);
      if (!done && now >= connection.deadline) {
        SendFdReply(connection.fd,
                    absl::DeadlineExceededError(absl::StrCat(
                        "no lease received within ",
                        absl::FormatDuration(options_.request_timeout))),
                    -1)
            .IgnoreError();
        done = true;
      }
      if (done) {
        close(connection.fd);
      } else {
        if (kept != i) connections[kept] = std::move(connection);
        ++kept;
      }
    }
    connections.erase(connections.begin() + static_cast<ptrdiff_t>(kept),
                      connections.end());
    for (size_t i = 0; i < listeners_.size(); ++i) {
      if (polled[1 + i].revents != 0) AcceptAll(listeners_[i], connections);
    }
  }
  for (const Connection& connection : connections) close(connection.fd);
}

void FdHandoffServer::AcceptAll(int listener,
                                std::vector<Connection>& connections) {
  for (;;) {
    const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      LogWarning("fd socket: accept: %s", std::strerror(errno));
      // Out of descriptors, say: the pending connections wait a little.
      absl::SleepFor(absl::Milliseconds(10));
      return;
    }
    ucred peer = {};
    socklen_t size = sizeof(peer);
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &peer, &size) != 0) {
      LogWarning("fd socket: SO_PEERCRED: %s", std::strerror(errno));
      close(fd);
      continue;
    }
    if (connections.size() >= static_cast<size_t>(options_.max_connections)) {
      SendFdReply(fd,
                  absl::UnavailableError(absl::StrCat(
                      "the fd socket is busy (", options_.max_connections,
                      " connections open); try again, or stream the put")),
                  -1)
          .IgnoreError();
      close(fd);
      continue;
    }
    connections.push_back(
        Connection{fd, absl::Now() + options_.request_timeout, peer, {}});
  }
}

bool FdHandoffServer::Serve(Connection& connection) {
  char buffer[kMaxFdRequestBytes];
  const ssize_t n = recv(connection.fd, buffer,
                         kMaxFdRequestBytes - connection.received.size(), 0);
  if (n < 0) return errno != EAGAIN && errno != EINTR;
  if (n == 0) return true;  // gone before asking
  connection.received.append(buffer, static_cast<size_t>(n));
  const size_t newline = connection.received.find('\n');
  if (newline != std::string::npos) {
    Answer(connection, connection.received.substr(0, newline));
    return true;
  }
  if (connection.received.size() >= kMaxFdRequestBytes) {
    SendFdReply(connection.fd,
                absl::InvalidArgumentError(absl::StrCat(
                    "request longer than ", kMaxFdRequestBytes,
                    " bytes; expected the lease Create returned and a "
                    "newline")),
                -1)
        .IgnoreError();
    return true;
  }
  return false;
}

void FdHandoffServer::Answer(const Connection& connection,
                             const std::string& lease) {
  const ucred& peer = connection.peer;
  absl::StatusOr<int> fd = store_->OpenStagingForClient(lease, peer.uid);
  if (!fd.ok()) {
    LogWarning("fd socket: refused uid %d (pid %d): %s", peer.uid, peer.pid,
               fd.status().message());
    SendFdReply(connection.fd, fd.status(), -1).IgnoreError();
    return;
  }
  absl::Status sent = SendFdReply(connection.fd, absl::OkStatus(), *fd);
  // Closed before the connection: a client that read to the end of the
  // reply knows this process holds the file no more.
  close(*fd);
  if (!sent.ok()) {
    LogWarning("fd socket: uid %d (pid %d) did not get its staging file: %s",
               peer.uid, peer.pid, sent.message());
  }
}

}  // namespace matcache
