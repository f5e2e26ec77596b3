// HttpServer: a thin RAII owner of libmicrohttpd daemons, one per listening
// address, each polling (poll()) in a small internal thread pool, plain
// HTTP or HTTPS. A handler answers each request once its headers are read:
// with a whole response, with a response whose body is produced as the
// client takes it (HttpBody), with an endless one that waits for what it
// sends (HttpEventBody), or by taking the request's body first
// (HttpUpload). libmicrohttpd enforces the connection limits, per-IP
// limits, the idle timeout and per-connection memory (which bounds the
// request line and headers), so a slow or hostile client costs one
// connection's buffers and never a thread of its own. The idle timeout
// alone would let a client that trickles its request line and headers, a
// byte now and then (slow-loris), hold a connection for ever: each request's
// headers must also arrive within the timeout, counted from the connection's
// start or the end of its previous request, or the connection is closed.
// Over HTTPS, each handshake takes the certificates in force then
// (ReplaceTls changes them).
//
// Thread-safe: the handler is called from the pools' threads, concurrently.
#ifndef MATCACHE_SERVER_HTTP_HTTP_SERVER_H_
#define MATCACHE_SERVER_HTTP_HTTP_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/http/http_tls_options.h"

struct MHD_Daemon;

namespace matcache {

class HeaderDeadlines;
class HttpTlsCredentials;
struct HttpEventStream;

struct HttpRequest {
  std::string method;  // "GET", "PUT", ...
  std::string path;    // without the query
  std::map<std::string, std::string> query;
  // The first query parameter sent more than once, if any (`query` holds
  // its last value).
  std::optional<std::string> repeated_query;
  // The headers the gateway uses, if sent.
  std::optional<std::string> authorization;
  std::optional<std::string> if_match;
  std::optional<std::string> if_none_match;
  std::optional<std::string> content_length;
  // Over HTTPS with client certificates asked for: whether the client
  // presented one that the client CA signed. False otherwise.
  bool client_verified = false;
};

// A response body produced piece by piece, from the connection's thread,
// as the client takes it.
class HttpBody {
 public:
  virtual ~HttpBody() = default;
  // Copies the next min(capacity, bytes left) bytes of the body to `out`
  // and returns how many.
  virtual size_t Read(char* out, size_t capacity) = 0;
};

// A response body of unknown length (sent chunked) that may have nothing
// to send for a while, as an event stream. Read is called from the
// connection's thread; while it has nothing, the connection is suspended:
// it holds no thread and is not polled (nor can a client's departure be
// seen) until the wake function given to Start is called. A server that
// stops ends every such body without reading it again.
class HttpEventBody {
 public:
  // What Read returns besides a byte count.
  static constexpr int64_t kNothingYet = 0;
  static constexpr int64_t kEnd = -1;

  virtual ~HttpEventBody() = default;
  // Called once, before the first Read, with the function that has Read
  // called again. `wake` may be called from any thread, any number of
  // times, until the body is destroyed; it takes no lock of the body's.
  virtual void Start(std::function<void()> wake) = 0;
  // Copies at most `capacity` next bytes to `out` and returns how many;
  // kNothingYet to be called again after the next wake (at once if one
  // came during this call); kEnd to end the body.
  virtual int64_t Read(char* out, size_t capacity) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // If set, the body instead: exactly `stream_bytes` bytes read from it.
  std::unique_ptr<HttpBody> stream;
  int64_t stream_bytes = 0;
  // If non-empty (and no stream), the body instead: these regions one after
  // another, sent straight from memory that `owner` keeps valid and
  // unchanged until the response is done; never copied.
  std::vector<absl::string_view> regions;
  std::shared_ptr<const void> owner;
  // If set, the body instead: what it sends until it ends.
  std::unique_ptr<HttpEventBody> events;
};

// Takes the body of a request as it arrives, in pieces of at most the
// connection's memory. Destroyed when the request ends, however it ends: a
// request that did not reach Finish (the client went away, timed out, or
// Receive refused) must be undone there.
class HttpUpload {
 public:
  virtual ~HttpUpload() = default;
  // The next bytes of the body. A response refuses the request: it is sent
  // once the rest of the body has arrived, which is read and discarded, and
  // nothing else is called; nullopt asks for more.
  virtual std::optional<HttpResponse> Receive(absl::string_view data) = 0;
  // The whole body was received: the response.
  virtual HttpResponse Finish() = 0;
};

// A handler's answer to a request's headers.
using HttpAnswer = std::variant<HttpResponse, std::unique_ptr<HttpUpload>>;

struct HttpServerOptions {
  // "HOST:PORT" addresses (IPv4 or [IPv6]); port 0 picks a free one.
  std::vector<std::string> listen;
  int threads = 2;                           // per address
  unsigned connections = 256;                // open at once, per address
  unsigned connections_per_ip = 64;
  // Of an idle connection; also the time a request's line and headers
  // have to arrive in.
  unsigned timeout_seconds = 30;
  size_t connection_memory_bytes = 64 << 10;  // request line, headers, buffers
  // Set: the listeners speak HTTPS only (see ReplaceTls).
  std::optional<HttpTlsOptions> tls;
};

class HttpServer {
 public:
  using Handler = std::function<HttpAnswer(const HttpRequest&)>;

  // Bytes of a streamed body produced per call to HttpBody::Read: what a
  // connection whose client reads slowly holds, besides its own memory.
  static constexpr size_t kBodyBlockBytes = 256 << 10;

  // Binds every address and starts serving. INVALID_ARGUMENT for a
  // malformed address or unusable TLS certificates; UNAVAILABLE naming the
  // address if it cannot be bound (in use, or not of this host).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      HttpServerOptions options, Handler handler);

  // Ends every event body, then stops every daemon; running handlers
  // finish first.
  ~HttpServer();

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // "HOST:PORT" of each address, with the port chosen for port 0.
  const std::vector<std::string>& addresses() const { return addresses_; }

  // The certificate chain, key and client CAs for the TLS handshakes from
  // now on; connections already made keep theirs. Whether clients are asked
  // for certificates stays as it was at the start. FAILED_PRECONDITION on
  // plain HTTP listeners; INVALID_ARGUMENT, changing nothing, for unusable
  // PEM (as Start) or a client CA given or dropped.
  absl::Status ReplaceTls(const HttpTlsOptions& tls) ABSL_LOCKS_EXCLUDED(tls_mu_);

 private:
  HttpServer(Handler handler, unsigned timeout_seconds,
             std::shared_ptr<const HttpTlsCredentials> tls, std::string client_ca);
  friend struct HttpDispatch;
  friend struct HttpEventStream;

  // The credentials for the next handshake; null on plain HTTP.
  std::shared_ptr<const HttpTlsCredentials> tls() const ABSL_LOCKS_EXCLUDED(tls_mu_);

  const Handler handler_;
  const bool verify_clients_;
  // Closes connections whose request headers are late; outlives daemons_.
  const std::unique_ptr<HeaderDeadlines> header_deadlines_;
  mutable absl::Mutex tls_mu_;
  std::shared_ptr<const HttpTlsCredentials> tls_ ABSL_GUARDED_BY(tls_mu_);
  // The client CAs the daemons started with, which they point into: set,
  // they ask clients for certificates.
  const std::string start_client_ca_;
  std::vector<MHD_Daemon*> daemons_;
  std::vector<std::string> addresses_;
  // The event bodies being sent, ended before the daemons stop (which
  // libmicrohttpd forbids while a connection is suspended).
  absl::Mutex streams_mu_;
  absl::flat_hash_set<HttpEventStream*> streams_ ABSL_GUARDED_BY(streams_mu_);
  bool stopping_ ABSL_GUARDED_BY(streams_mu_) = false;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_HTTP_SERVER_H_
