#include "server/core/storage/fd_handoff.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/base/fd_closer.h"

namespace matcache {
namespace {

// Milliseconds until `deadline` for poll(), at least 0.
int MillisecondsUntil(absl::Time deadline) {
  const int64_t left = absl::ToInt64Milliseconds(deadline - absl::Now());
  return static_cast<int>(std::clamp<int64_t>(left, 0, 1 << 30));
}

// Waits until `fd` is ready for `events`; false once `deadline` passed.
bool WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    pollfd ready = {fd, events, 0};
    const int n = poll(&ready, 1, MillisecondsUntil(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;  // the next call reports the error
  }
}

}  // namespace

std::string FdSocketPath(absl::string_view socket_path) {
  return absl::StrCat(socket_path, kFdSocketSuffix);
}

std::string EncodeFdReply(const absl::Status& status) {
  if (status.ok()) return "OK\n";
  std::string line =
      absl::StrCat(absl::StatusCodeToString(status.code()), " ", status.message());
  std::replace(line.begin(), line.end(), '\n', ' ');
  if (line.size() > kMaxFdReplyBytes - 1) line.resize(kMaxFdReplyBytes - 1);
  line += '\n';
  return line;
}

absl::Status DecodeFdReply(absl::string_view line) {
  absl::ConsumeSuffix(&line, "\n");
  if (line == "OK") return absl::OkStatus();
  const size_t space = line.find(' ');
  if (space != absl::string_view::npos) {
    const absl::string_view name = line.substr(0, space);
    for (int code = 1; code <= static_cast<int>(absl::StatusCode::kUnauthenticated);
         ++code) {
      const auto status_code = static_cast<absl::StatusCode>(code);
      if (absl::StatusCodeToString(status_code) == name) {
        return absl::Status(status_code, line.substr(space + 1));
      }
    }
  }
  return absl::UnknownError(absl::StrCat(
      "malformed reply from the fd socket: \"", absl::CHexEscape(line), "\""));
}

absl::Status SendFdReply(int socket, const absl::Status& status, int fd) {
  std::string line = EncodeFdReply(status);
  iovec io = {line.data(), line.size()};
  msghdr message = {};
  message.msg_iov = &io;
  message.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  if (status.ok()) {
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  }
  for (;;) {
    const ssize_t n = sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n == static_cast<ssize_t>(line.size())) return absl::OkStatus();
    if (n >= 0) return absl::UnavailableError("the reply did not fit the socket");
    if (errno != EINTR) {
      return absl::UnavailableError(
          absl::StrCat("send reply: ", std::strerror(errno)));
    }
  }
}

absl::StatusOr<int> RequestStagingFd(const std::string& fd_socket,
                                     absl::string_view lease,
                                     absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  auto unavailable = [&fd_socket](absl::string_view what, int error) {
    return absl::UnavailableError(absl::StrCat(
        "cannot get the staging file from the fd socket ", fd_socket, ": ",
        what, error != 0 ? absl::StrCat(": ", std::strerror(error)) : ""));
  };
  sockaddr_un address = {};
  address.sun_family = AF_UNIX;
  if (fd_socket.empty()) {
    return absl::UnavailableError(
        "the server named no fd socket (it does only to calls that come "
        "through its unix socket): its staging file cannot be written from "
        "here");
  }
  if (fd_socket.size() >= sizeof(address.sun_path)) {
    return unavailable("path too long", 0);
  }
  fd_socket.copy(address.sun_path, sizeof(address.sun_path) - 1);
  FdCloser socket_fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (socket_fd.get() < 0) return unavailable("socket", errno);
  // Non-blocking: a full backlog (a busy server) fails at once with EAGAIN.
  if (connect(socket_fd.get(), reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) != 0) {
    return unavailable("connect", errno);
  }

  const std::string request = absl::StrCat(lease, "\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(socket_fd.get(), request.data() + sent,
                           request.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN) {
      if (!WaitFor(socket_fd.get(), POLLOUT, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat(
            "the fd socket ", fd_socket, " took no request within ",
            absl::FormatDuration(timeout)));
      }
    } else if (errno == EPIPE || errno == ECONNRESET) {
      break;  // refused at once (a busy server): its reply may be waiting
    } else if (errno != EINTR) {
      return unavailable("send", errno);
    }
  }

  std::string reply;
  FdCloser received(-1);
  for (;;) {
    char buffer[kMaxFdReplyBytes];
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * 4)];
    iovec io = {buffer, sizeof(buffer)};
    msghdr message = {};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    const ssize_t n = recvmsg(socket_fd.get(), &message, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EAGAIN) {
      if (!WaitFor(socket_fd.get(), POLLIN, deadline)) {
        return absl::DeadlineExceededError(absl::StrCat(
            "the fd socket ", fd_socket, " did not answer within ",
            absl::FormatDuration(timeout)));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    // A server that answers before reading the request (busy) resets the
    // connection as it closes it, after the reply.
    if (n < 0 && errno == ECONNRESET && !reply.empty()) break;
    if (n < 0) return unavailable("receive", errno);
    for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
         header = CMSG_NXTHDR(&message, header)) {
      if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) {
        continue;
      }
      const size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (size_t i = 0; i < count; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
        // One descriptor is the reply; anything more is not kept.
        if (received.get() < 0) {
          received.Reset(fd);
        } else {
          close(fd);
        }
      }
    }
    if (n == 0) break;
    reply.append(buffer, static_cast<size_t>(n));
    if (reply.size() > kMaxFdReplyBytes || (message.msg_flags & MSG_CTRUNC)) {
      return absl::UnknownError(
          absl::StrCat("the fd socket ", fd_socket, " sent a malformed reply"));
    }
  }
  if (reply.empty()) {
    return unavailable("the server closed the connection without a reply", 0);
  }
  if (reply.back() != '\n') {
    return absl::UnknownError(absl::StrCat(
        "the fd socket ", fd_socket, " sent an unfinished reply \"",
        absl::CHexEscape(reply), "\""));
  }
  absl::Status status = DecodeFdReply(reply);
  if (!status.ok()) return status;
  if (received.get() < 0) {
    return absl::UnknownError(absl::StrCat(
        "the fd socket ", fd_socket, " answered OK without a descriptor"));
  }
  return received.Release();
}

}  // namespace matcache
