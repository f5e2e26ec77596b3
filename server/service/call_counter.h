// CallCounter: counts the calls in progress on a gRPC server, through a
// server interceptor that lives exactly as long as each call, so that
// shutdown can wait for running calls rather than for idle connections
// (gRPC's Shutdown waits for every connection to close until its deadline);
// and reports each finished call, with its status and duration, to the
// Metrics.
//
// Register NewInterceptorFactory() with the server's builder before it
// starts; the counter must outlive the server. Thread-safe.
#ifndef MATCACHE_SERVER_SERVICE_CALL_COUNTER_H_
#define MATCACHE_SERVER_SERVICE_CALL_COUNTER_H_

#include <grpcpp/support/server_interceptor.h>

#include <cstdint>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/metrics/metrics.h"

namespace matcache {

class CallCounter {
 public:
  // `metrics` must outlive the counter.
  explicit CallCounter(Metrics* metrics) : metrics_(metrics) {}
  CallCounter(const CallCounter&) = delete;
  CallCounter& operator=(const CallCounter&) = delete;

  // A factory whose interceptors count their calls here.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

  // Waits until no call is in progress or `deadline` passes; returns
  // whether none is.
  bool WaitUntilIdle(absl::Time deadline);

 private:
  friend class CountedCall;
  void Add(int64_t delta);

  Metrics* const metrics_;
  absl::Mutex mu_;
  int64_t active_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_CALL_COUNTER_H_
