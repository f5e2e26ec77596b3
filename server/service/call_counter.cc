#include "server/service/call_counter.h"

namespace matcache {

// Counted from its creation, as the call begins, to its destruction, once
// the call is done.
class CountedCall : public grpc::experimental::Interceptor {
 public:
  explicit CountedCall(CallCounter* counter) : counter_(counter) {
    counter_->Add(1);
  }
  ~CountedCall() override { counter_->Add(-1); }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    methods->Proceed();
  }

 private:
  CallCounter* const counter_;
};

namespace {

class CountingFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(CallCounter* counter) : counter_(counter) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* /*info*/) override {
    return new CountedCall(counter_);
  }

 private:
  CallCounter* const counter_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CallCounter::NewInterceptorFactory() {
  return std::make_unique<CountingFactory>(this);
}

void CallCounter::Add(int64_t delta) {
  absl::MutexLock lock(&mu_);
  active_ += delta;
}

bool CallCounter::WaitUntilIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(
      absl::Condition(+[](int64_t* active) { return *active == 0; }, &active_),
      deadline);
}

}  // namespace matcache
