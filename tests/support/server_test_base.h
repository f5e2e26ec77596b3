// ServerTestBase: a fixture that runs a real MatcacheServer in-process, on a
// unix socket and a TCP port chosen by the kernel, over a temporary shm
// directory; tests talk to it through real gRPC channels.
#ifndef MATCACHE_TESTS_SUPPORT_SERVER_TEST_BASE_H_
#define MATCACHE_TESTS_SUPPORT_SERVER_TEST_BASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "matcache/v1/matcache.grpc.pb.h"
#include "server/service/server.h"
#include "tests/support/temp_dir.h"

namespace matcache::testing {

class ServerTestBase : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Options for a server in the temporary directories, lease 1 s.
  ServerOptions Options() const;
  // Starts (or restarts) the server with `options`.
  void StartServer(const ServerOptions& options);
  void StopServer();

  std::string unix_address() const { return "unix:" + socket_dir_.path() + "/m.sock"; }
  // "127.0.0.1:PORT" of the running server.
  std::string tcp_address() const;
  // Where the server keeps the access token its TCP listener needs, and
  // that token ("" if the file cannot be read).
  std::string access_token_file() const { return socket_dir_.path() + "/access.token"; }
  std::string AccessToken() const;
  // A stub on the unix socket.
  std::unique_ptr<v1::MatrixCache::Stub> NewStub() const;
  std::string shm_dir() const { return shm_dir_.path(); }
  // Segment and staging files in the shm directory (not the lock), sorted.
  std::vector<std::string> SegmentFiles() const;
  // Asks the standard health service about the whole server, on the unix
  // socket; its serialized HealthCheckResponse goes to `response`, if given.
  grpc::Status CheckHealth(std::string* response = nullptr) const;

  // Starts a Put stream on `stub` and sends its header; the stream stays
  // open for data.
  static std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> StartPut(
      v1::MatrixCache::Stub& stub, grpc::ClientContext* context,
      v1::MatrixInfo* response, const std::string& name,
      const std::vector<int64_t>& shape, v1::DType dtype);

  ScopedTempDir shm_dir_;
  ScopedTempDir socket_dir_;
  std::unique_ptr<MatcacheServer> server_;
};

}  // namespace matcache::testing

#endif  // MATCACHE_TESTS_SUPPORT_SERVER_TEST_BASE_H_
