#include "tests/support/server_test_base.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/match.h"

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

std::vector<std::string> ServerTestBase::SegmentFiles() const {
  std::vector<std::string> files = shm_dir_.Entries();
  files.erase(std::remove(files.begin(), files.end(), "t.lock"), files.end());
  return files;
}

}  // namespace matcache::testing
