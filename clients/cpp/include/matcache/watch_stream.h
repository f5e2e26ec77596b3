// WatchStream: the events of one Client::Watch, as the server sends them
// (see the Watch RPC in protos/matcache/v1/matcache.proto): Next waits for
// the next one; Cancel, from any thread, ends the stream, also while Next
// waits. The Client must outlive the stream. Next is for one thread at a
// time.
#ifndef MATCACHE_WATCH_STREAM_H_
#define MATCACHE_WATCH_STREAM_H_

#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "matcache/watch_event.h"

namespace matcache {

class WatchStream {
 public:
  // The gRPC call (watch_stream.cc).
  class Call;

  explicit WatchStream(std::unique_ptr<Call> call);
  // Cancels the stream if it is still open.
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // The next event, or nullopt once Cancel ended the stream. Errors end it
  // too: ABORTED when the watcher fell behind and lost events (list again,
  // then watch anew), UNAVAILABLE when the server shuts down or cannot be
  // reached, the access errors without the read token.
  absl::StatusOr<std::optional<WatchEvent>> Next();

  // Ends the stream; harmless once it ended.
  void Cancel();

 private:
  const std::unique_ptr<Call> call_;
};

}  // namespace matcache

#endif  // MATCACHE_WATCH_STREAM_H_
