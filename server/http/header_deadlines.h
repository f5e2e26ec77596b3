// HeaderDeadlines: the HTTP connections whose next request line and headers
// are awaited, each with the time they must have arrived by (libmicrohttpd's
// own timeout counts only silence, so a client trickling a byte at a time
// would keep a connection forever). A thread shuts down the socket of a
// connection past its deadline: libmicrohttpd then reads the end of the
// stream and closes the connection itself (it has no call to close one from
// outside its own threads). The caller must Forget a connection before
// libmicrohttpd closes its socket (MHD_CONNECTION_NOTIFY_CLOSED comes
// first), so the descriptor shut down is always still the connection's.
//
// Thread-safe.
#ifndef MATCACHE_SERVER_HTTP_HEADER_DEADLINES_H_
#define MATCACHE_SERVER_HTTP_HEADER_DEADLINES_H_

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "absl/container/flat_hash_map.h"

struct MHD_Connection;

namespace matcache {

class HeaderDeadlines {
 public:
  // Request lines and headers must arrive within `limit`.
  explicit HeaderDeadlines(std::chrono::seconds limit);
  ~HeaderDeadlines();

  HeaderDeadlines(const HeaderDeadlines&) = delete;
  HeaderDeadlines& operator=(const HeaderDeadlines&) = delete;

  // From now on a request's line and headers are awaited on `connection`.
  void Await(MHD_Connection* connection);

  // The headers arrived, or the connection is closing.
  void Forget(MHD_Connection* connection);

 private:
  struct Awaited {
    int fd;
    std::chrono::steady_clock::time_point deadline;
  };

  void Run();

  const std::chrono::seconds limit_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  absl::flat_hash_map<MHD_Connection*, Awaited> awaited_;  // guarded by mu_
  std::thread thread_;  // last: starts once the rest is built
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_HEADER_DEADLINES_H_
