#include "matcache/watch_stream.h"

#include <atomic>
#include <string>
#include <utility>

#include "clients/cpp/connection.h"
#include "protos/convert/proto_convert.h"
#include "server/core/base/status_macros.h"

namespace matcache {

class WatchStream::Call {
 public:
  Call(const Client::Connection* connection, const v1::WatchRequest& request)
      : connection_(connection) {
    connection_->AddToken(&context_);  // no deadline: a watch lasts
    reader_ = connection_->stub->Watch(&context_, request);
  }

  ~Call() {
    if (ended_.has_value()) return;
    Cancel();
    reader_->Finish();  // lets the call go
  }

  absl::StatusOr<std::optional<WatchEvent>> Next() {
    if (!ended_.has_value()) {
      v1::WatchEvent proto;
      if (reader_->Read(&proto)) {
        ASSIGN_OR_RETURN(WatchEvent event, FromProto(proto));
        return event;
      }
      const grpc::Status finished = reader_->Finish();
      ended_ = cancelled_.load() ? absl::OkStatus()
                                 : connection_->FromGrpc(finished);
    }
    if (!ended_->ok()) return *ended_;
    return std::nullopt;
  }

  void Cancel() {
    cancelled_.store(true);
    context_.TryCancel();
  }

 private:
  const Client::Connection* const connection_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchEvent>> reader_;
  std::optional<absl::Status> ended_;  // once the reader finished
  std::atomic<bool> cancelled_{false};
};

WatchStream::WatchStream(std::unique_ptr<Call> call) : call_(std::move(call)) {}

WatchStream::~WatchStream() = default;

absl::StatusOr<std::optional<WatchEvent>> WatchStream::Next() {
  return call_->Next();
}

void WatchStream::Cancel() { call_->Cancel(); }

std::unique_ptr<WatchStream> Client::Watch(absl::string_view prefix,
                                           bool initial) {
  v1::WatchRequest request;
  request.set_prefix(std::string(prefix));
  request.set_initial(initial);
  return std::make_unique<WatchStream>(
      std::make_unique<WatchStream::Call>(connection_.get(), request));
}

absl::Status Client::Watch(absl::string_view prefix, bool initial,
                           absl::FunctionRef<bool(const WatchEvent&)> on_event) {
  std::unique_ptr<WatchStream> stream = Watch(prefix, initial);
  while (true) {
    ASSIGN_OR_RETURN(std::optional<WatchEvent> event, stream->Next());
    if (!event.has_value() || !on_event(*event)) return absl::OkStatus();
  }
}

}  // namespace matcache
