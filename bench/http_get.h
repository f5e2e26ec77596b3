// HttpGet: one HTTP/1.1 keep-alive connection that sends GETs one at a
// time and reads each response (status line, headers, a Content-Length
// body), for the load generator. The body is read and dropped; only its
// size is kept. Not thread-safe: one per thread.
#ifndef MATCACHE_BENCH_HTTP_GET_H_
#define MATCACHE_BENCH_HTTP_GET_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace matcache {

class HttpGet {
 public:
  // Connects to "HOST:PORT" (a numeric IPv4 host or "localhost").
  static absl::StatusOr<std::unique_ptr<HttpGet>> Connect(
      absl::string_view host_port);
  ~HttpGet();
  HttpGet(const HttpGet&) = delete;
  HttpGet& operator=(const HttpGet&) = delete;

  // GETs `target` ("/path?query"); the body's size if the status is 200,
  // else UNKNOWN naming the status, or UNAVAILABLE if the connection broke
  // (it is then closed for good).
  absl::StatusOr<int64_t> Get(absl::string_view target);

 private:
  HttpGet(int fd, std::string host) : fd_(fd), host_(std::move(host)) {}

  // Reads at least one more byte into `buffer_` past `end_`.
  absl::Status Fill();

  int fd_;
  const std::string host_;
  std::string buffer_ = std::string(1 << 20, '\0');
  size_t begin_ = 0;  // unread bytes are buffer_[begin_, end_)
  size_t end_ = 0;
};

}  // namespace matcache

#endif  // MATCACHE_BENCH_HTTP_GET_H_
