// Who may do what: tokens, and file and socket modes; against a real server.
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "matcache/client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/storage/fd_handoff.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

constexpr char kReadToken[] = "read-7f3a";
constexpr char kWriteToken[] = "write-91c2";

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

gid_t GroupOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(lstat(path.c_str(), &st), 0) << path;
  return st.st_gid;
}

class AccessTest : public matcache::testing::ServerTestBase {
 protected:
  void SetUp() override {}  // each test starts the server it needs

  std::unique_ptr<Client> Connect(const std::string& token) {
    ClientOptions options;
    options.address = unix_address();
    options.token = token;
    return Client::Connect(options);
  }

  std::string socket_path() const { return socket_dir_.path() + "/m.sock"; }
};

TEST_F(AccessTest, TokensGuardWritesAndReads) {
  ServerOptions options = Options();
  options.access = AccessPolicy(kReadToken, kWriteToken);
  StartServer(options);
  const xt::xarray<int64_t> matrix = {1, 2, 3};
  auto writer = Connect(kWriteToken);
  absl::StatusOr<MatrixInfo> put = writer->Put("m", matrix);
  ASSERT_TRUE(put.ok()) << put.status();

  // An empty token sends none, whatever $MATCACHE_TOKEN holds.
  setenv("MATCACHE_TOKEN", kWriteToken, 1);
  auto anonymous = Connect("");
  unsetenv("MATCACHE_TOKEN");
  absl::Status refused = anonymous->Put("m", xt::xarray<int64_t>{9}).status();
  EXPECT_TRUE(absl::IsUnauthenticated(refused)) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("write token"));
  EXPECT_TRUE(absl::IsUnauthenticated(anonymous->Info("m").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(anonymous->Read<int64_t>("m").status()));
  EXPECT_TRUE(absl::IsUnauthenticated(anonymous->Delete("m")));

  auto wrong = Connect("guess");
  EXPECT_TRUE(absl::IsPermissionDenied(wrong->Info("m").status()));
  EXPECT_TRUE(absl::IsPermissionDenied(wrong->Delete("m")));

  auto reader = Connect(kReadToken);
  EXPECT_TRUE(absl::IsPermissionDenied(reader->Delete("m")));
  EXPECT_TRUE(absl::IsPermissionDenied(
      reader->Put("m", xt::xarray<int64_t>{9}).status()));
  absl::StatusOr<xt::xarray<int64_t>> read = reader->Read<int64_t>("m");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, matrix);
  // Nothing refused changed the matrix.
  absl::StatusOr<MatrixInfo> info = writer->Info("m");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->generation, put->generation);
  EXPECT_TRUE(writer->Delete("m").ok());
}

TEST_F(AccessTest, WithoutATokenOptionTheClientSendsMatcacheToken) {
  ServerOptions options = Options();
  options.access = AccessPolicy(kReadToken, kWriteToken);
  StartServer(options);
  setenv("MATCACHE_TOKEN", kWriteToken, 1);
  ClientOptions client_options;
  client_options.address = unix_address();
  auto client = Client::Connect(client_options);
  unsetenv("MATCACHE_TOKEN");
  EXPECT_TRUE(client->Put("m", xt::xarray<int8_t>{1}).ok());
}

TEST_F(AccessTest, HealthNeedsNoToken) {
  ServerOptions options = Options();
  options.access = AccessPolicy(kReadToken, kWriteToken);
  StartServer(options);
  const grpc::Status status = CheckHealth();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(AccessTest, WithoutGroupEverythingIsPrivate) {
  StartServer(Options());
  EXPECT_EQ(ModeOf(socket_dir_.path()), 0700);
  EXPECT_EQ(ModeOf(socket_path()), 0600);
  EXPECT_EQ(ModeOf(FdSocketPath(socket_path())), 0600);
  auto client = Connect("");
  absl::StatusOr<MatrixInfo> put = client->Put("m", xt::xarray<double>{1.5});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(ModeOf(put->path), 0400);
}

TEST_F(AccessTest, GroupGetsTheSocketAndReadOnlySegments) {
  // A group this process may give files to other than its own: as root any,
  // else a supplementary one.
  gid_t group = 65534;
  if (geteuid() != 0) {
    gid_t groups[64];
    const int count = getgroups(64, groups);
    const auto other = std::find_if(groups, groups + std::max(count, 0),
                                    [](gid_t g) { return g != getegid(); });
    if (other == groups + std::max(count, 0)) {
      GTEST_SKIP() << "needs root or a supplementary group";
    }
    group = *other;
  }
  ServerOptions options = Options();
  options.group = group;
  StartServer(options);
  EXPECT_EQ(ModeOf(socket_dir_.path()), 0750);
  EXPECT_EQ(GroupOf(socket_dir_.path()), group);
  EXPECT_EQ(ModeOf(socket_path()), 0660);
  EXPECT_EQ(GroupOf(socket_path()), group);
  // The fd socket beside it is the group's as much.
  EXPECT_EQ(ModeOf(FdSocketPath(socket_path())), 0660);
  EXPECT_EQ(GroupOf(FdSocketPath(socket_path())), group);

  auto stub = NewStub();
  grpc::ClientContext context;
  v1::CreateRequest create;
  create.set_name("m");
  create.add_shape(4);
  create.set_dtype(v1::DTYPE_INT8);
  v1::CreateResponse created;
  ASSERT_TRUE(stub->Create(&context, create, &created).ok());
  // The staging file is the server's alone even so: its writer gets a
  // descriptor from the fd socket.
  EXPECT_EQ(ModeOf(created.path()), 0600);
  EXPECT_EQ(GroupOf(created.path()), group);
  EXPECT_EQ(created.fd_socket(), FdSocketPath(socket_path()));
  grpc::ClientContext commit_context;
  v1::CommitRequest commit;
  commit.set_lease(created.lease());
  v1::MatrixInfo info;
  ASSERT_TRUE(stub->Commit(&commit_context, commit, &info).ok());
  EXPECT_EQ(ModeOf(info.path()), 0440);
  EXPECT_EQ(GroupOf(info.path()), group);

  // The staging file of a Put stream is the server's alone: members without
  // the write token must not be able to change what it publishes.
  grpc::ClientContext put_context;
  v1::MatrixInfo put_info;
  auto writer = StartPut(*stub, &put_context, &put_info, "streamed", {4},
                         v1::DTYPE_INT8);
  std::string staging;
  for (int i = 0; i < 500 && staging.empty(); ++i) {
    for (const std::string& file : SegmentFiles()) {
      if (absl::StrContains(file, "streamed") &&
          absl::StrContains(file, ".staging.")) {
        staging = shm_dir() + "/" + file;
      }
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_FALSE(staging.empty());
  EXPECT_EQ(ModeOf(staging), 0600);
  put_context.TryCancel();
  writer->Finish();
}

TEST_F(AccessTest, MissingParentsOfTheSocketDirectoryCanBePassed) {
  const std::string parent = socket_dir_.path() + "/run";
  const std::string socket = parent + "/matcache/m.sock";
  ServerOptions options = Options();
  options.listen = {ListenAddress{true, socket, "unix:" + socket}};
  const mode_t saved = umask(077);
  StartServer(options);
  umask(saved);
  EXPECT_EQ(ModeOf(parent), 0755);
  EXPECT_EQ(ModeOf(parent + "/matcache"), 0700);
  EXPECT_EQ(ModeOf(socket), 0600);
  EXPECT_EQ(ModeOf(FdSocketPath(socket)), 0600);
}

TEST_F(AccessTest, RefusesASocketDirectoryOpenToEveryone) {
  ASSERT_EQ(chmod(socket_dir_.path().c_str(), 0755), 0);
  absl::StatusOr<std::unique_ptr<MatcacheServer>> server =
      MatcacheServer::Start(Options());
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(server.status())) << server.status();
  EXPECT_THAT(server.status().message(), HasSubstr("open to every user"));
}

}  // namespace
}  // namespace matcache
