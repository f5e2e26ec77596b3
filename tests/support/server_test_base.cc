#include "tests/support/server_test_base.h"

#include <fstream>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/synchronization/notification.h"

namespace matcache::testing {

void ServerTestBase::SetUp() { StartServer(Options()); }

void ServerTestBase::TearDown() { StopServer(); }

ServerOptions ServerTestBase::Options() const {
  ServerOptions options;
  options.listen = {ListenAddress{true, socket_dir_.path() + "/m.sock",
                                  unix_address()},
                    ListenAddress{false, "", "127.0.0.1:0"}};
  options.store.shm_dir = shm_dir_.path();
  options.store.name_space = "t";
  options.service.lease = absl::Seconds(1);
  options.shutdown_grace = absl::Seconds(2);
  return options;
}

void ServerTestBase::StartServer(const ServerOptions& options) {
  StopServer();
  absl::StatusOr<std::unique_ptr<MatcacheServer>> server =
      MatcacheServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  server_ = *std::move(server);
}

void ServerTestBase::StopServer() {
  if (server_ != nullptr) server_->Shutdown();
  server_ = nullptr;
}

std::string ServerTestBase::AccessToken() const {
  std::ifstream file(access_token_file());
  std::string token;
  file >> token;
  return token;
}

std::string ServerTestBase::tcp_address() const {
  for (const std::string& address : server_->addresses()) {
    if (!absl::StartsWith(address, "unix:")) return address;
  }
  return "";
}

std::unique_ptr<v1::MatrixCache::Stub> ServerTestBase::NewStub() const {
  return v1::MatrixCache::NewStub(
      grpc::CreateChannel(unix_address(), grpc::InsecureChannelCredentials()));
}

grpc::Status ServerTestBase::CheckHealth(std::string* response) const {
  grpc::GenericStub stub(
      grpc::CreateChannel(unix_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  // HealthCheckRequest{service: ""} serializes to no bytes.
  grpc::Slice empty;
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer reply;
  grpc::Status status;
  absl::Notification done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(),
                 &request, &reply, [&](grpc::Status s) {
                   status = std::move(s);
                   done.Notify();
                 });
  done.WaitForNotification();
  if (status.ok() && response != nullptr) {
    std::vector<grpc::Slice> slices;
    if (reply.Dump(&slices).ok()) {
      response->clear();
      for (const grpc::Slice& slice : slices) {
        response->append(reinterpret_cast<const char*>(slice.begin()),
                         slice.size());
      }
    }
  }
  return status;
}

std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> ServerTestBase::StartPut(
    v1::MatrixCache::Stub& stub, grpc::ClientContext* context,
    v1::MatrixInfo* response, const std::string& name,
    const std::vector<int64_t>& shape, v1::DType dtype) {
  auto writer = stub.Put(context, response);
  v1::PutRequest header;
  header.mutable_header()->set_name(name);
  header.mutable_header()->mutable_shape()->Assign(shape.begin(), shape.end());
  header.mutable_header()->set_dtype(dtype);
  writer->Write(header);
  return writer;
}

std::vector<std::string> ServerTestBase::SegmentFiles() const {
  std::vector<std::string> files = shm_dir_.Entries();
  files.erase(std::remove(files.begin(), files.end(), "t.lock"), files.end());
  return files;
}

}  // namespace matcache::testing
