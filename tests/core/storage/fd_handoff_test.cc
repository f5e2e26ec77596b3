#include "server/core/storage/fd_handoff.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

TEST(FdHandoffTest, RepliesRoundTrip) {
  EXPECT_EQ(EncodeFdReply(absl::OkStatus()), "OK\n");
  EXPECT_TRUE(DecodeFdReply("OK\n").ok());
  const absl::Status refused = absl::NotFoundError("no staging write x");
  EXPECT_EQ(EncodeFdReply(refused), "NOT_FOUND no staging write x\n");
  EXPECT_EQ(DecodeFdReply(EncodeFdReply(refused)), refused);
  const absl::Status busy = absl::UnavailableError("busy");
  EXPECT_EQ(DecodeFdReply(EncodeFdReply(busy)), busy);
}

TEST(FdHandoffTest, AReplyIsOneBoundedLine) {
  const std::string encoded =
      EncodeFdReply(absl::InternalError("two\nlines" + std::string(1000, 'x')));
  EXPECT_EQ(encoded.size(), kMaxFdReplyBytes);
  EXPECT_EQ(encoded.find('\n'), encoded.size() - 1);
  EXPECT_THAT(encoded, ::testing::StartsWith("INTERNAL two lines"));
}

TEST(FdHandoffTest, MalformedRepliesAreUnknown) {
  for (const char* line : {"", "OK?", "NOT_A_CODE x", "NOT_FOUND"}) {
    EXPECT_EQ(DecodeFdReply(line).code(), absl::StatusCode::kUnknown) << line;
  }
}

TEST(FdHandoffTest, FdSocketPathIsBesideTheSocket) {
  EXPECT_EQ(FdSocketPath("/run/matcache/m.sock"), "/run/matcache/m.sock.fds");
}

// A one-connection server on a socket in a temporary directory that
// answers with `respond(connection)`.
class FakeFdSocket {
 public:
  explicit FakeFdSocket(std::function<void(int)> respond)
      : path_(dir_.path() + "/m.sock.fds") {
    listener_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address = {};
    address.sun_family = AF_UNIX;
    path_.copy(address.sun_path, sizeof(address.sun_path) - 1);
    EXPECT_EQ(bind(listener_, reinterpret_cast<const sockaddr*>(&address),
                   sizeof(address)), 0);
    EXPECT_EQ(listen(listener_, 4), 0);
    thread_ = std::thread([this, respond = std::move(respond)] {
      const int connection = accept(listener_, nullptr, nullptr);
      if (connection < 0) return;
      char request[kMaxFdRequestBytes];
      const ssize_t n = read(connection, request, sizeof(request));
      request_.assign(request, n > 0 ? static_cast<size_t>(n) : 0);
      respond(connection);
      close(connection);
    });
  }
  ~FakeFdSocket() {
    thread_.join();
    close(listener_);
  }
  const std::string& path() const { return path_; }
  // What the client sent; read only after the request is answered.
  const std::string& request() const { return request_; }

 private:
  matcache::testing::ScopedTempDir dir_;
  std::string path_;
  int listener_ = -1;
  std::string request_;
  std::thread thread_;
};

TEST(FdHandoffTest, RequestSendsTheLeaseAndTakesTheDescriptor) {
  matcache::testing::ScopedTempDir files;
  const std::string file = files.path() + "/staging";
  const int original = open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  ASSERT_GE(original, 0);
  std::string sent;
  absl::StatusOr<int> fd;
  {
    FakeFdSocket server([original](int connection) {
      EXPECT_TRUE(SendFdReply(connection, absl::OkStatus(), original).ok());
    });
    fd = RequestStagingFd(server.path(), "0123abcd", absl::Seconds(5));
    sent = server.request();
  }
  close(original);
  ASSERT_TRUE(fd.ok()) << fd.status();
  EXPECT_EQ(sent, "0123abcd\n");
  struct stat got, want;
  ASSERT_EQ(fstat(*fd, &got), 0);
  ASSERT_EQ(stat(file.c_str(), &want), 0);
  EXPECT_EQ(got.st_ino, want.st_ino);
  EXPECT_EQ(fcntl(*fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  close(*fd);
}

TEST(FdHandoffTest, RequestReturnsTheServersRefusal) {
  FakeFdSocket server([](int connection) {
    EXPECT_TRUE(SendFdReply(connection, absl::NotFoundError("no such lease"), -1)
                    .ok());
  });
  absl::StatusOr<int> fd = RequestStagingFd(server.path(), "l", absl::Seconds(5));
  EXPECT_EQ(fd.status(), absl::NotFoundError("no such lease"));
}

TEST(FdHandoffTest, OkWithoutADescriptorIsAnError) {
  FakeFdSocket server([](int connection) {
    ASSERT_EQ(write(connection, "OK\n", 3), 3);
  });
  absl::StatusOr<int> fd = RequestStagingFd(server.path(), "l", absl::Seconds(5));
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kUnknown);
  EXPECT_THAT(fd.status().message(), HasSubstr("without a descriptor"));
}

TEST(FdHandoffTest, NoReplyOrNoSocketIsUnavailable) {
  {
    FakeFdSocket server([](int) {});
    EXPECT_EQ(RequestStagingFd(server.path(), "l", absl::Seconds(5)).status().code(),
              absl::StatusCode::kUnavailable);
  }
  matcache::testing::ScopedTempDir empty;
  absl::StatusOr<int> fd =
      RequestStagingFd(empty.path() + "/absent.fds", "l", absl::Seconds(5));
  EXPECT_EQ(fd.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(fd.status().message(), HasSubstr("No such file"));
  EXPECT_EQ(RequestStagingFd("", "l", absl::Seconds(5)).status().code(),
            absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace matcache
