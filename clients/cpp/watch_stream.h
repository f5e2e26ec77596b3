// WatchStream: the events of one Client::Watch, as the server sends them
// (see the Watch RPC in protos/matcache/v1/matcache.proto): Next waits for
// the next one; Cancel, from any thread, ends the stream, also while Next
// waits. The Client must outlive the stream. Next is for one thread at a
// time.
#ifndef MATCACHE_CLIENTS_CPP_WATCH_STREAM_H_
#define MATCACHE_CLIENTS_CPP_WATCH_STREAM_H_

#include <atomic>
#include <memory>
#include <optional>

#include <grpcpp/grpcpp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "matcache/v1/matcache.grpc.pb.h"
#include "server/watch/watch_event.h"

namespace matcache {

class Client;

class WatchStream {
 public:
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;
  // Cancels the stream if it is still open.
  ~WatchStream();

  // The next event, or nullopt once Cancel ended the stream. Errors end it
  // too: ABORTED when the watcher fell behind and lost events (list again,
  // then watch anew), UNAVAILABLE when the server shuts down or cannot be
  // reached, the access errors without the read token.
  absl::StatusOr<std::optional<WatchEvent>> Next();

  // Ends the stream; harmless once it ended.
  void Cancel();

 private:
  friend class Client;
  explicit WatchStream(const Client* client) : client_(client) {}

  const Client* const client_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  std::optional<absl::Status> ended_;  // once the reader finished
  std::atomic<bool> cancelled_{false};
};

}  // namespace matcache

#endif  // MATCACHE_CLIENTS_CPP_WATCH_STREAM_H_
