#include "clients/cpp/raw_stream.h"

#include <grpcpp/generic/generic_stub.h>

#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace matcache {
namespace {

// Field keys of ReadResponse: header (1) and data (2), length-delimited.
constexpr uint8_t kHeaderKey = (1 << 3) | 2;
constexpr uint8_t kDataKey = (2 << 3) | 2;

// Reads the bytes of one received message across its slices.
class FrameReader {
 public:
  explicit FrameReader(std::vector<grpc::Slice> slices) : slices_(std::move(slices)) {}

  bool Byte(uint8_t* out) {
    while (slice_ < slices_.size() && offset_ == slices_[slice_].size()) Next();
    if (slice_ == slices_.size()) return false;
    *out = slices_[slice_].begin()[offset_++];
    return true;
  }

  bool Varint(uint64_t* out) {
    *out = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      uint8_t byte;
      if (!Byte(&byte)) return false;
      *out |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;
  }

  // Copies the next `size` bytes to `out`; false if fewer remain.
  bool Copy(char* out, size_t size) {
    while (size > 0) {
      if (slice_ == slices_.size()) return false;
      const size_t n = std::min(size, slices_[slice_].size() - offset_);
      std::memcpy(out, slices_[slice_].begin() + offset_, n);
      out += n;
      size -= n;
      offset_ += n;
      if (offset_ == slices_[slice_].size()) Next();
    }
    return true;
  }

  bool AtEnd() {
    while (slice_ < slices_.size() && offset_ == slices_[slice_].size()) Next();
    return slice_ == slices_.size();
  }

 private:
  void Next() {
    ++slice_;
    offset_ = 0;
  }

  std::vector<grpc::Slice> slices_;
  size_t slice_ = 0;
  size_t offset_ = 0;
};

// A minimal synchronous driver of one generic call on its own queue.
class Call {
 public:
  Call(const std::shared_ptr<grpc::Channel>& channel, absl::string_view method,
       absl::FunctionRef<void(grpc::ClientContext*)> prepare_context)
      : stub_(channel) {
    prepare_context(&context_);
    call_ = stub_.PrepareCall(&context_, std::string(method), &queue_);
    call_->StartCall(this);
    started_ = Wait();
  }

  ~Call() {
    queue_.Shutdown();
    void* tag;
    bool ok;
    while (queue_.Next(&tag, &ok)) {
    }
  }

  bool started() const { return started_; }
  bool Write(const grpc::ByteBuffer& message) {
    call_->Write(message, this);
    if (!Wait()) return false;
    call_->WritesDone(this);
    return Wait();
  }
  bool Read(grpc::ByteBuffer* message) {
    call_->Read(message, this);
    return Wait();
  }
  grpc::Status Finish() {
    grpc::Status status;
    call_->Finish(&status, this);
    Wait();
    return status;
  }
  void Cancel() { context_.TryCancel(); }

 private:
  bool Wait() {
    void* tag;
    bool ok = false;
    return queue_.Next(&tag, &ok) && ok;
  }

  grpc::GenericStub stub_;
  grpc::ClientContext context_;
  grpc::CompletionQueue queue_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> call_;
  bool started_ = false;
};

grpc::Status DataLoss(absl::string_view what) {
  return grpc::Status(grpc::StatusCode::DATA_LOSS, std::string(what));
}

}  // namespace

grpc::Status RunRawStream(
    const std::shared_ptr<grpc::Channel>& channel, absl::string_view method,
    const google::protobuf::MessageLite& request,
    absl::FunctionRef<void(grpc::ClientContext*)> prepare_context,
    absl::FunctionRef<absl::StatusOr<char*>(const v1::ReadHeader&)> on_header) {
  Call call(channel, method, prepare_context);
  const std::string bytes = request.SerializeAsString();
  grpc::Slice slice(bytes.data(), bytes.size());
  if (!call.started() || !call.Write(grpc::ByteBuffer(&slice, 1))) {
    return call.Finish();
  }
  grpc::ByteBuffer message;
  std::vector<grpc::Slice> slices;
  char* out = nullptr;
  uint64_t expected = 0;
  uint64_t received = 0;
  bool have_header = false;
  while (call.Read(&message)) {
    if (!message.Dump(&slices).ok()) {
      call.Cancel();
      call.Finish();
      return DataLoss("unreadable message");
    }
    FrameReader frame(std::move(slices));
    uint8_t key;
    uint64_t length;
    if (!frame.Byte(&key) || !frame.Varint(&length)) {
      call.Cancel();
      call.Finish();
      return DataLoss("malformed message from the server");
    }
    if (key == kHeaderKey && !have_header) {
      if (length > message.Length()) {
        call.Cancel();
        call.Finish();
        return DataLoss("a header message is shorter than it says");
      }
      std::string text(length, '\0');
      v1::ReadHeader header;
      if (!frame.Copy(text.data(), length) || !header.ParseFromString(text)) {
        call.Cancel();
        call.Finish();
        return DataLoss("malformed header from the server");
      }
      absl::StatusOr<char*> target = on_header(header);
      if (!target.ok()) {
        call.Cancel();
        call.Finish();
        return grpc::Status(static_cast<grpc::StatusCode>(target.status().code()),
                            std::string(target.status().message()));
      }
      out = *target;
      expected = static_cast<uint64_t>(header.nbytes());
      have_header = true;
    } else if (key == kDataKey && have_header && length <= expected - received) {
      if (!frame.Copy(out + received, length) || !frame.AtEnd()) {
        call.Cancel();
        call.Finish();
        return DataLoss("a data message is shorter than it says");
      }
      received += length;
    } else {
      call.Cancel();
      call.Finish();
      return DataLoss("unexpected message from the server");
    }
  }
  grpc::Status status = call.Finish();
  if (!status.ok()) return status;
  if (!have_header) return DataLoss("stream ended before its header");
  if (received != expected) {
    return DataLoss(absl::StrCat("stream ended after ", received, " of ",
                                 expected, " bytes"));
  }
  return status;
}

}  // namespace matcache
