// HeldAnswers: a bound on the memory of whole answers the HTTP gateway holds
// until their clients have read them.
//
// Most answers are built in full before they are sent (a JSON slice, a
// preview, a list page, a metrics scrape) and libmicrohttpd keeps each until
// it has handed the last byte to the socket or the connection closes; a
// client that reads slowly, or not at all, would otherwise keep one for as
// long as its connection lasts, on each of its connections. .npy data downloads are
// streamed from the segment a block at a time and do not count.
//
// Thread-safe.
#ifndef MATCACHE_SERVER_HTTP_HELD_ANSWERS_H_
#define MATCACHE_SERVER_HTTP_HELD_ANSWERS_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "server/http/http_server.h"

namespace matcache {

class HeldAnswers {
 public:
  // At most `limit_bytes` of bodies larger than one streamed block
  // (HttpServer::kBodyBlockBytes) held at once.
  explicit HeldAnswers(int64_t limit_bytes);

  // `response`, its body then held against the bound until libmicrohttpd has
  // handed its last byte to the socket (or the connection closed); or, if
  // holding it would pass the bound while others are held, a 503 problem
  // (UNAVAILABLE, with Retry-After) naming the bound instead. One answer
  // larger than the bound is held when it would be alone. A body of one
  // block or less, and a response without one, pass as they are.
  HttpResponse Hold(HttpResponse response) const;

 private:
  struct Body;

  const int64_t limit_;
  // Shared with each held body, which may outlive this.
  const std::shared_ptr<std::atomic<int64_t>> held_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_HELD_ANSWERS_H_
