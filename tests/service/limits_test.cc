// The limits that keep one client from holding or exhausting server
// resources, against a real server: stalled streams, message size and
// streams per connection.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "matcache/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class LimitsTest : public matcache::testing::ServerTestBase {
 protected:
  void SetUp() override {}  // each test starts the server it needs

  std::unique_ptr<Client> Connect() {
    ClientOptions options;
    options.address = unix_address();
    return Client::Connect(options);
  }

  // Publishes 64 MiB, far more than the transport buffers hold, so that a
  // stream of it stalls when its client stops reading; returns its path.
  std::string PutBig(const std::string& name) {
    const xt::xarray<double> matrix = xt::zeros<double>({int64_t{1} << 23});
    absl::StatusOr<MatrixInfo> info = Connect()->Put(name, matrix);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? info->path : "";
  }

  // Whether this process (the server runs in it) maps the file `path`.
  static bool Mapped(const std::string& path) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    while (std::getline(maps, line)) {
      if (absl::StrContains(line, path)) return true;
    }
    return false;
  }

  // Waits at most 10 s for `condition`; returns whether it came true.
  static bool WaitFor(const std::function<bool()>& condition) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (!condition()) {
      if (absl::Now() > deadline) return false;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return true;
  }
};

TEST_F(LimitsTest, CancelsAReadStreamTheClientStopsReading) {
  ServerOptions options = Options();
  options.stream_idle_timeout = absl::Milliseconds(300);
  StartServer(options);
  const std::string path = PutBig("big");

  auto stub = NewStub();
  grpc::ClientContext context;
  v1::ReadRequest request;
  request.set_name("big");
  auto reader = stub->Read(&context, request);
  v1::ReadResponse response;
  ASSERT_TRUE(reader->Read(&response));  // the header
  // Deleted, the matrix stays mapped only for the stream: the mapping goes
  // when the server cancels the stalled stream.
  ASSERT_TRUE(Connect()->Delete("big").ok());
  EXPECT_TRUE(WaitFor([&] { return !Mapped(path); }))
      << "the stalled stream still maps " << path;
  while (reader->Read(&response)) {
  }
  const grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED)
      << status.error_message();
}

TEST_F(LimitsTest, CancelsAPutStreamTheClientStopsSending) {
  ServerOptions options = Options();
  options.service.lease = absl::Seconds(30);  // the watchdog, not the lease
  options.stream_idle_timeout = absl::Milliseconds(300);
  StartServer(options);
  auto stub = NewStub();
  grpc::ClientContext context;
  // A watchdog that never fires fails the test instead of hanging it.
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(60));
  v1::MatrixInfo response;
  auto writer = StartPut(*stub, &context, &response, "stalled", {1 << 20},
                         v1::DTYPE_UINT8);
  v1::PutRequest data;
  data.set_data(std::string(1000, 'x'));
  ASSERT_TRUE(writer->Write(data));
  // Without WritesDone, Finish returns only when the server ends the call.
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED)
      << status.error_message();
  // And the cancelled stream's staging file goes.
  EXPECT_TRUE(WaitFor([&] { return SegmentFiles().empty(); }))
      << "the stalled stream still holds its staging file";
}

TEST_F(LimitsTest, RefusesMessagesOverTheLimit) {
  ServerOptions options = Options();
  options.max_receive_message_bytes = 1 << 20;
  StartServer(options);
  auto stub = NewStub();
  grpc::ClientContext context;
  v1::MatrixInfo response;
  auto writer = StartPut(*stub, &context, &response, "m", {2 << 20},
                         v1::DTYPE_UINT8);
  v1::PutRequest data;
  data.set_data(std::string(2 << 20, 'x'));
  writer->Write(data);
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("larger than max"));
  // Nothing was published and the server goes on serving.
  EXPECT_TRUE(absl::IsNotFound(Connect()->Info("m").status()));
  EXPECT_TRUE(Connect()->Put("m", xt::xarray<int8_t>{1}).ok());
}

TEST_F(LimitsTest, StreamsBeyondTheLimitWaitForTheirConnection) {
  ServerOptions options = Options();
  options.max_concurrent_streams_per_connection = 2;
  StartServer(options);
  PutBig("big");
  auto channel = grpc::CreateChannel(unix_address(),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::MatrixCache::NewStub(channel);
  v1::ReadRequest request;
  request.set_name("big");
  // Two streams that stall, holding both of the connection's slots.
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::ReadResponse>>> readers;
  for (int i = 0; i < 2; ++i) {
    contexts.push_back(std::make_unique<grpc::ClientContext>());
    readers.push_back(stub->Read(contexts.back().get(), request));
    v1::ReadResponse header;
    ASSERT_TRUE(readers.back()->Read(&header));
  }
  grpc::ClientContext third;
  third.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(500));
  v1::InfoRequest info_request;
  info_request.set_name("big");
  v1::MatrixInfo info;
  EXPECT_EQ(stub->Info(&third, info_request, &info).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // Another connection is not held up.
  EXPECT_TRUE(Connect()->Info("big").ok());
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) reader->Finish();
}

}  // namespace
}  // namespace matcache
