#include "clients/cpp/watch_stream.h"

#include "clients/cpp/client.h"
#include "protos/convert/proto_convert.h"

namespace matcache {

WatchStream::~WatchStream() {
  if (!ended_.has_value()) {
    Cancel();
    reader_->Finish();  // the call's status, to let the call go
  }
}

absl::StatusOr<std::optional<WatchEvent>> WatchStream::Next() {
  if (!ended_.has_value()) {
    v1::WatchEvent proto;
    if (reader_->Read(&proto)) {
      ASSIGN_OR_RETURN(WatchEvent event, FromProto(proto));
      return event;
    }
    const grpc::Status finished = reader_->Finish();
    ended_ = cancelled_.load() ? absl::OkStatus() : client_->FromGrpc(finished);
  }
  if (!ended_->ok()) return *ended_;
  return std::nullopt;
}

void WatchStream::Cancel() {
  cancelled_.store(true);
  context_.TryCancel();
}

}  // namespace matcache
