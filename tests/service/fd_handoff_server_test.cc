// The fd sockets of a running server: each lease's staging file is handed
// out once, to whoever presents the lease; bad requests are refused with a
// reason; a silent or surplus connection delays nobody.
#include "server/service/fd_handoff_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "matcache/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/storage/fd_handoff.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class FdHandoffServerTest : public matcache::testing::ServerTestBase {
 protected:
  std::string fd_socket() const { return FdSocketPath(socket_dir_.path() + "/m.sock"); }

  v1::CreateResponse Create(const std::string& name, int64_t count) {
    grpc::ClientContext context;
    v1::CreateRequest request;
    request.set_name(name);
    request.add_shape(count);
    request.set_dtype(v1::DTYPE_INT64);
    v1::CreateResponse created;
    const grpc::Status status = NewStub()->Create(&context, request, &created);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return created;
  }

  grpc::Status Commit(const std::string& lease, v1::MatrixInfo* info) {
    grpc::ClientContext context;
    v1::CommitRequest request;
    request.set_lease(lease);
    return NewStub()->Commit(&context, request, info);
  }

  // A connection to the fd socket that has sent nothing.
  int ConnectSilently() const {
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    fd_socket().copy(address.sun_path, sizeof(address.sun_path) - 1);
    EXPECT_EQ(connect(fd, reinterpret_cast<const sockaddr*>(&address),
                      sizeof(address)), 0) << std::strerror(errno);
    return fd;
  }

  // Everything `fd` receives until the server closes it (at most 10 s).
  static std::string ReadToEnd(int fd) {
    std::string got;
    const absl::Time give_up = absl::Now() + absl::Seconds(10);
    for (;;) {
      pollfd ready = {fd, POLLIN, 0};
      const int left = static_cast<int>(
          std::max<int64_t>(0, absl::ToInt64Milliseconds(give_up - absl::Now())));
      if (poll(&ready, 1, left) <= 0) return got + "<no end>";
      char buffer[1024];
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n <= 0) return got;
      got.append(buffer, static_cast<size_t>(n));
    }
  }

  // True if `fd` has nothing to read yet and is not closed.
  static bool Unanswered(int fd) {
    pollfd ready = {fd, POLLIN, 0};
    return poll(&ready, 1, 0) == 0;
  }
};

TEST_F(FdHandoffServerTest, HandsOutEachLeaseOnce) {
  const v1::CreateResponse created = Create("m", 4);
  absl::StatusOr<int> fd =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  struct stat handed, staging;
  ASSERT_EQ(fstat(*fd, &handed), 0);
  ASSERT_EQ(stat(created.path().c_str(), &staging), 0);
  EXPECT_EQ(handed.st_ino, staging.st_ino);
  EXPECT_EQ(staging.st_mode & 07777, 0600u);
  EXPECT_EQ(fcntl(*fd, F_GETFL) & O_ACCMODE, O_RDWR);

  absl::StatusOr<int> again =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("handed out already"));

  const std::vector<int64_t> values = {4, 3, 2, 1};
  ASSERT_EQ(pwrite(*fd, values.data(), 32, created.data_offset()), 32);
  close(*fd);
  v1::MatrixInfo info;
  const grpc::Status committed = Commit(created.lease(), &info);
  ASSERT_TRUE(committed.ok()) << committed.error_message();
  // Once committed, the lease names nothing.
  EXPECT_EQ(RequestStagingFd(created.fd_socket(), created.lease(),
                             absl::Seconds(5)).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FdHandoffServerTest, RefusesUnknownAndMalformedLeases) {
  const v1::CreateResponse created = Create("m", 4);
  absl::StatusOr<int> unknown = RequestStagingFd(
      created.fd_socket(), std::string(32, '0'), absl::Seconds(5));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), HasSubstr("no staging write"));
  absl::StatusOr<int> malformed =
      RequestStagingFd(created.fd_socket(), "guess", absl::Seconds(5));
  EXPECT_EQ(malformed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(malformed.status().message(), HasSubstr("malformed lease"));
  // Neither used the lease up.
  absl::StatusOr<int> fd =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
}

TEST_F(FdHandoffServerTest, CommitRefusesWhileTheDescriptorIsOpen) {
  const v1::CreateResponse created = Create("m", 4);
  absl::StatusOr<int> fd =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  v1::MatrixInfo info;
  const grpc::Status refused = Commit(created.lease(), &info);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(refused.error_message(), HasSubstr("still open for writing"));
  close(*fd);
  EXPECT_THAT(SegmentFiles(), ::testing::IsEmpty());
}

TEST_F(FdHandoffServerTest, ARequestTooLongIsRefused) {
  const int fd = ConnectSilently();
  const std::string junk(kMaxFdRequestBytes, 'a');
  ASSERT_EQ(write(fd, junk.data(), junk.size()),
            static_cast<ssize_t>(junk.size()));
  EXPECT_THAT(ReadToEnd(fd), StartsWith("INVALID_ARGUMENT request longer than"));
  close(fd);
}

TEST_F(FdHandoffServerTest, ASilentConnectionDelaysNobodyAndTimesOut) {
  ServerOptions options = Options();
  options.fd_handoff_timeout = absl::Seconds(3);
  StartServer(options);
  const int silent = ConnectSilently();
  const v1::CreateResponse created = Create("m", 4);
  absl::StatusOr<int> fd =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
  v1::MatrixInfo info;
  ASSERT_TRUE(Commit(created.lease(), &info).ok());
  EXPECT_TRUE(Unanswered(silent)) << "the put waited for the silent connection";
  EXPECT_EQ(ReadToEnd(silent), "DEADLINE_EXCEEDED no lease received within 3s\n");
  close(silent);
}

TEST_F(FdHandoffServerTest, ConnectionsBeyondTheBoundAreTurnedAway) {
  ServerOptions options = Options();
  options.fd_handoff_max_connections = 2;
  options.fd_handoff_timeout = absl::Seconds(1);
  options.service.lease = absl::Seconds(60);  // outlasts the wait below
  StartServer(options);
  const int first = ConnectSilently();
  const int second = ConnectSilently();
  const v1::CreateResponse created = Create("m", 4);
  absl::StatusOr<int> busy =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  EXPECT_EQ(busy.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(busy.status().message(), HasSubstr("busy"));

  // The client streams instead.
  ClientOptions client_options;
  client_options.address = unix_address();
  absl::StatusOr<MatrixInfo> put =
      Client::Connect(client_options)->Put("streamed", xt::xarray<int64_t>{1, 2});
  ASSERT_TRUE(put.ok()) << put.status();

  // Once the server closed both, there is room again.
  EXPECT_THAT(ReadToEnd(first), StartsWith("DEADLINE_EXCEEDED"));
  EXPECT_THAT(ReadToEnd(second), StartsWith("DEADLINE_EXCEEDED"));
  close(first);
  close(second);
  absl::StatusOr<int> fd =
      RequestStagingFd(created.fd_socket(), created.lease(), absl::Seconds(5));
  ASSERT_TRUE(fd.ok()) << fd.status();
  close(*fd);
}

TEST_F(FdHandoffServerTest, ShutdownRemovesTheFdSocket) {
  struct stat st;
  ASSERT_EQ(lstat(fd_socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  StopServer();
  EXPECT_NE(lstat(fd_socket().c_str(), &st), 0);
  EXPECT_EQ(errno, ENOENT);
}

TEST_F(FdHandoffServerTest, OnlyCallsThroughTheUnixSocketAreToldTheFdSocket) {
  EXPECT_EQ(Create("m", 2).fd_socket(), fd_socket());
  auto stub = v1::MatrixCache::NewStub(
      grpc::CreateChannel(tcp_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.AddMetadata("authorization", "Bearer " + AccessToken());
  v1::CreateRequest request;
  request.set_name("m");
  request.add_shape(2);
  request.set_dtype(v1::DTYPE_INT64);
  v1::CreateResponse created;
  ASSERT_TRUE(stub->Create(&context, request, &created).ok());
  EXPECT_EQ(created.fd_socket(), "");
}

TEST_F(FdHandoffServerTest, AServerWithoutUnixListenerNamesNoFdSocket) {
  ServerOptions options = Options();
  options.listen = {ListenAddress{false, "", "127.0.0.1:0"}};
  options.tcp_auth = TcpAuth::kNone;  // no unix socket to keep a token beside
  StartServer(options);
  auto stub = v1::MatrixCache::NewStub(
      grpc::CreateChannel(tcp_address(), grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  v1::CreateRequest request;
  request.set_name("m");
  request.add_shape(2);
  request.set_dtype(v1::DTYPE_INT64);
  v1::CreateResponse created;
  ASSERT_TRUE(stub->Create(&context, request, &created).ok());
  EXPECT_EQ(created.fd_socket(), "");
  EXPECT_EQ(RequestStagingFd(created.fd_socket(), created.lease(),
                             absl::Seconds(5)).status().code(),
            absl::StatusCode::kUnavailable);

  // The C++ client streams instead, or says why it cannot write locally.
  ClientOptions client_options;
  client_options.address = tcp_address();
  absl::StatusOr<MatrixInfo> put =
      Client::Connect(client_options)->Put("streamed", xt::xarray<int64_t>{1, 2});
  ASSERT_TRUE(put.ok()) << put.status();
  client_options.local = LocalMode::kAlways;
  absl::StatusOr<MatrixInfo> forced =
      Client::Connect(client_options)->Put("forced", xt::xarray<int64_t>{1, 2});
  EXPECT_EQ(forced.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace matcache
