// HttpServer: a thin RAII owner of libmicrohttpd daemons, one per listening
// address, each in internal polling mode with a small thread pool. Requests
// go to a handler that returns a whole response; libmicrohttpd enforces the
// connection limits, per-IP limits, timeouts and per-connection memory, so
// a slow or hostile client costs one connection's buffer and never a
// thread of its own.
//
// Thread-safe: the handler is called from the pool's threads, concurrently.
#ifndef MATCACHE_SERVER_HTTP_HTTP_SERVER_H_
#define MATCACHE_SERVER_HTTP_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct MHD_Daemon;

namespace matcache {

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // without the query
  std::map<std::string, std::string> query;
  // The Authorization and If-None-Match headers, if sent.
  std::optional<std::string> authorization;
  std::optional<std::string> if_none_match;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpServerOptions {
  // "HOST:PORT" addresses (IPv4 or [IPv6]); port 0 picks a free one.
  std::vector<std::string> listen;
  int threads = 2;                           // per address
  unsigned connections = 256;                // open at once, per address
  unsigned connections_per_ip = 64;
  unsigned timeout_seconds = 30;             // of an idle connection
  size_t connection_memory_bytes = 64 << 10;  // request line, headers, buffers
};

class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds every address and starts serving. INVALID_ARGUMENT for a
  // malformed address; UNAVAILABLE naming the address if it cannot be bound
  // (in use, or not of this host).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, Handler handler);

  // Stops every daemon; running handlers finish first.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "HOST:PORT" of each address, with the port chosen for port 0.
  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  explicit HttpServer(Handler handler) : handler_(std::move(handler)) {}

  const Handler handler_;
  std::vector<MHD_Daemon*> daemons_;
  std::vector<std::string> addresses_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_HTTP_SERVER_H_
