#include "bench/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/base/posix_error.h"

namespace matcache {

absl::StatusOr<std::unique_ptr<HttpGet>> HttpGet::Connect(
    absl::string_view host_port) {
  const size_t colon = host_port.rfind(':');
  int port = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(host_port.substr(colon + 1), &port)) {
    return absl::InvalidArgumentError(
        absl::StrCat("not HOST:PORT: ", host_port));
  }
  std::string host(host_port.substr(0, colon));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host.c_str(),
                &address.sin_addr) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a numeric IPv4 host: ", host));
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return PosixError(errno, "socket", host_port);
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(fd, reinterpret_cast<const sockaddr*>(&address),
              sizeof(address)) != 0) {
    const int error = errno;
    close(fd);
    return PosixError(error, "connect", host_port);
  }
  return std::unique_ptr<HttpGet>(new HttpGet(fd, std::string(host_port)));
}

HttpGet::~HttpGet() {
  if (fd_ >= 0) close(fd_);
}

absl::Status HttpGet::Fill() {
  if (fd_ < 0) return absl::UnavailableError("the connection was closed");
  if (begin_ == end_) begin_ = end_ = 0;
  if (end_ == buffer_.size()) {  // headers are never this long
    return absl::UnavailableError("a response header over 1 MiB");
  }
  while (true) {
    const ssize_t n = recv(fd_, buffer_.data() + end_, buffer_.size() - end_, 0);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return absl::OkStatus();
    }
    if (n < 0 && errno == EINTR) continue;
    const absl::Status broken =
        n == 0 ? absl::UnavailableError(absl::StrCat(host_, " closed the connection"))
               : PosixError(errno, "recv", host_);
    close(fd_);
    fd_ = -1;
    return absl::UnavailableError(broken.message());
  }
}

absl::StatusOr<int64_t> HttpGet::Get(absl::string_view target) {
  if (fd_ < 0) return absl::UnavailableError("the connection was closed");
  const std::string request =
      absl::StrCat("GET ", target, " HTTP/1.1\r\nHost: ", host_, "\r\n\r\n");
  for (size_t sent = 0; sent < request.size();) {
    const ssize_t n = send(fd_, request.data() + sent, request.size() - sent,
                           MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::UnavailableError(PosixError(errno, "send", host_).message());
    sent += static_cast<size_t>(n);
  }
  size_t header_end;
  while (true) {
    const absl::string_view unread(buffer_.data() + begin_, end_ - begin_);
    header_end = unread.find("\r\n\r\n");
    if (header_end != absl::string_view::npos) break;
    if (begin_ > 0) {  // make room at the end
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (absl::Status filled = Fill(); !filled.ok()) return filled;
  }
  const absl::string_view header(buffer_.data() + begin_, header_end);
  begin_ += header_end + 4;
  int status = 0;
  int64_t length = -1;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(header, "\r\n")) {
    if (first) {
      const std::vector<absl::string_view> words = absl::StrSplit(line, ' ');
      if (words.size() < 2 || !absl::SimpleAtoi(words[1], &status)) {
        return absl::UnavailableError(absl::StrCat("not a status line: ", line));
      }
      first = false;
      continue;
    }
    const size_t colon = line.find(':');
    if (colon != absl::string_view::npos &&
        absl::EqualsIgnoreCase(line.substr(0, colon), "content-length") &&
        !absl::SimpleAtoi(absl::StripAsciiWhitespace(line.substr(colon + 1)),
                          &length)) {
      return absl::UnavailableError(absl::StrCat("bad header: ", line));
    }
  }
  if (length < 0) {
    return absl::UnavailableError("a response without Content-Length");
  }
  for (int64_t left = length; left > 0;) {
    if (begin_ == end_) {
      if (absl::Status filled = Fill(); !filled.ok()) return filled;
    }
    const size_t taken = std::min<size_t>(end_ - begin_, static_cast<size_t>(left));
    begin_ += taken;
    left -= static_cast<int64_t>(taken);
  }
  if (status != 200) {
    return absl::UnknownError(absl::StrCat("GET ", target, ": HTTP ", status));
  }
  return length;
}

}  // namespace matcache
