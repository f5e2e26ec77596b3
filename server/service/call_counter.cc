#include "server/service/call_counter.h"

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matcache {

// Counted from its creation, as the call begins, to its destruction, once
// the call is done; then reported with the status it sent.
class CountedCall : public grpc::experimental::Interceptor {
 public:
  CountedCall(CallCounter* counter, absl::string_view method)
      : counter_(counter),
        method_(method.substr(method.rfind('/') + 1)),
        start_(std::chrono::steady_clock::now()) {
    counter_->Add(1);
  }
  ~CountedCall() override {
    const std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start_;
    counter_->metrics_->CountRequest("grpc", method_, CodeName(code_),
                                     elapsed.count());
    counter_->Add(-1);
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = methods->GetSendStatus().error_code();
    }
    methods->Proceed();
  }

 private:
  static std::string CodeName(grpc::StatusCode code) {
    return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
  }

  CallCounter* const counter_;
  const std::string method_;  // the RPC's name: a fixed set
  const std::chrono::steady_clock::time_point start_;
  grpc::StatusCode code_ = grpc::StatusCode::CANCELLED;  // until one is sent
};

namespace {

class CountingFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit CountingFactory(CallCounter* counter) : counter_(counter) {}

  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new CountedCall(counter_, info->method() != nullptr ? info->method() : "");
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
