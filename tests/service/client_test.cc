// matcache::Client against a real server.
#include "matcache/client.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <complex>
#include <cstring>
#include <numeric>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class ClientTest : public matcache::testing::ServerTestBase {
 protected:
  // A client over TCP, or over the unix socket: the zero-copy put needs
  // the fd socket, which only calls through the unix socket are told of.
  std::unique_ptr<Client> Connect(LocalMode local = LocalMode::kAuto,
                                  bool unix_socket = false) {
    ClientOptions options;
    options.address = unix_socket ? unix_address() : tcp_address();
    options.token_file = access_token_file();
    options.local = local;
    return Client::Connect(options);
  }
};

TEST_F(ClientTest, PutThenGetMapsTheSegmentReadOnly) {
  auto client = Connect();
  const xt::xarray<double> matrix = {{1.5, 2.5, 3.5}, {4.5, 5.5, 6.5}};
  absl::StatusOr<MatrixInfo> put = client->Put("m", matrix);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_THAT(put->shape, ElementsAre(2, 3));
  EXPECT_EQ(put->dtype, DType::kFloat64);

  absl::StatusOr<MappedMatrix> got = client->Get("m");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->info().id, put->id);
  absl::StatusOr<MatrixView<double>> view = got->View<double>();
  ASSERT_TRUE(view.ok()) << view.status();
  EXPECT_EQ(*view, matrix);
  // Not a copy: the data is the segment file's page after the header, and
  // the mapping cannot be made writable.
  void* data = const_cast<void*>(got->data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % 4096, 0u);
  EXPECT_NE(mprotect(data, 4096, PROT_READ | PROT_WRITE), 0);
  EXPECT_EQ(errno, EACCES);

  absl::StatusOr<MatrixView<float>> wrong = got->View<float>();
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("holds float64, not float32"));
}

TEST_F(ClientTest, MappingOutlivesReplaceAndDelete) {
  auto client = Connect();
  ASSERT_TRUE(client->Put("m", xt::xarray<int32_t>{1, 2, 3}).ok());
  absl::StatusOr<MappedMatrix> old = client->Get("m");
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(client->Put("m", xt::xarray<int32_t>{7, 8, 9, 10}).ok());
  ASSERT_TRUE(client->Delete("m").ok());
  EXPECT_EQ(*old->View<int32_t>(), (xt::xarray<int32_t>{1, 2, 3}));
  EXPECT_EQ(client->Get("m").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, StreamedPutEqualsLocalPut) {
  auto local = Connect(LocalMode::kAlways, /*unix_socket=*/true);
  auto streamed = Connect(LocalMode::kNever);
  // 33 MiB: many 2 MiB chunks, and more than two 16 MiB checksum blocks
  // (the streamed put hashes as it receives, the local one at Commit).
  xt::xarray<int64_t> matrix = xt::arange<int64_t>(33 << 17);
  matrix.reshape({33 * 256, 512});
  absl::StatusOr<MatrixInfo> a = local->Put("local", matrix);
  absl::StatusOr<MatrixInfo> b = streamed->Put("streamed", matrix);
  ASSERT_TRUE(a.ok() && b.ok()) << a.status() << b.status();
  EXPECT_EQ(a->checksum, b->checksum);
  EXPECT_EQ(a->shape, b->shape);
  EXPECT_EQ(*local->Get("streamed")->View<int64_t>(), matrix);
  // Over TCP the server names no fd socket: a local put is impossible.
  EXPECT_EQ(Connect(LocalMode::kAlways)->Put("tcp", matrix).status().code(),
            absl::StatusCode::kUnavailable);
}

TEST_F(ClientTest, EveryDTypeRoundTrips) {
  auto client = Connect();
  for (const DTypeInfo& dtype : AllDTypes()) {
    std::vector<char> bytes(6 * dtype.item_size);
    for (size_t i = 0; i < bytes.size(); ++i) {
      bytes[i] = dtype.dtype == DType::kBool ? static_cast<char>(i % 2)
                                             : static_cast<char>(i * 7 + 1);
    }
    const std::string name = std::string(dtype.name);
    absl::StatusOr<MatrixInfo> put =
        client->Put(name, bytes.data(), {2, 3}, dtype.dtype);
    ASSERT_TRUE(put.ok()) << name << ": " << put.status();
    absl::StatusOr<MappedMatrix> got = client->Get(name);
    ASSERT_TRUE(got.ok()) << name;
    EXPECT_EQ(got->info().dtype, dtype.dtype);
    EXPECT_EQ(std::memcmp(got->data(), bytes.data(), bytes.size()), 0) << name;
  }
  EXPECT_EQ(client->List("")->size(), AllDTypes().size());
}

TEST_F(ClientTest, ZeroDimensionalAndEmptyMatrices) {
  auto client = Connect();
  const std::complex<double> scalar(1.5, -2);
  ASSERT_TRUE(client->Put("scalar", &scalar, {}, DType::kComplex128).ok());
  absl::StatusOr<MappedMatrix> got = client->Get("scalar");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->info().shape.empty());
  EXPECT_EQ((*got->View<std::complex<double>>())(), scalar);

  ASSERT_TRUE(client->Put("empty", nullptr, {3, 0}, DType::kFloat32).ok());
  absl::StatusOr<MappedMatrix> empty = client->Get("empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->info().nbytes, 0);
  EXPECT_EQ(empty->View<float>()->size(), 0u);
}

TEST_F(ClientTest, ReadSlicesAndCastsIntoXarrays) {
  auto client = Connect();
  xt::xarray<int32_t> matrix = xt::arange<int32_t>(24);
  matrix.reshape({4, 6});
  ASSERT_TRUE(client->Put("m", matrix).ok());

  absl::StatusOr<xt::xarray<int32_t>> all = client->Read<int32_t>("m");
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, matrix);

  // m[::-2, 1:5:3].astype(float64)
  absl::StatusOr<xt::xarray<double>> window = client->Read<double>(
      "m", {Index::Slice({}, {}, -2), Index::Slice(1, 5, 3)});
  ASSERT_TRUE(window.ok()) << window.status();
  EXPECT_EQ(*window, (xt::xarray<double>{{19, 22}, {7, 10}}));

  absl::StatusOr<xt::xarray<int32_t>> bad =
      client->Read<int32_t>("m", {Index::At(9)});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("out of bounds"));
}

TEST_F(ClientTest, PreviewIntoXarrays) {
  auto client = Connect();
  xt::xarray<int64_t> matrix = xt::arange<int64_t>(24);
  matrix.reshape({4, 6});
  ASSERT_TRUE(client->Put("m", matrix).ok());
  absl::StatusOr<xt::xarray<double>> mean = client->Preview<double>("m", {2, 3});
  ASSERT_TRUE(mean.ok()) << mean.status();
  EXPECT_EQ(*mean, (xt::xarray<double>{{3.5, 5.5, 7.5}, {15.5, 17.5, 19.5}}));
  absl::StatusOr<xt::xarray<int64_t>> high =
      client->Preview<int64_t>("m", {2}, PreviewMethod::kMax);
  ASSERT_TRUE(high.ok()) << high.status();
  EXPECT_EQ(*high, (xt::xarray<int64_t>{{6, 7, 8, 9, 10, 11}, {18, 19, 20, 21, 22, 23}}));
  // A mean preview is float64: asking for another type is refused.
  absl::StatusOr<xt::xarray<float>> wrong = client->Preview<float>("m", {2, 3});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("float64"));
}

TEST_F(ClientTest, ListAndDelete) {
  auto client = Connect();
  for (const char* name : {"b", "a", "c"}) {
    ASSERT_TRUE(client->Put(name, xt::xarray<uint8_t>{1}).ok());
  }
  absl::StatusOr<std::vector<MatrixInfo>> all = client->List();
  ASSERT_TRUE(all.ok());
  std::vector<std::string> names;
  for (const MatrixInfo& info : *all) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("a", "b", "c"));
  ASSERT_TRUE(client->Delete("b").ok());
  EXPECT_EQ(client->List()->size(), 2u);
  EXPECT_EQ(client->Delete("b").code(), absl::StatusCode::kNotFound);
}

TEST_F(ClientTest, ErrorsCarryTheServersCodeAndMessage) {
  auto client = Connect();
  absl::StatusOr<MatrixInfo> missing = client->Info("nope");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(missing.status().message(), HasSubstr("nope"));
  EXPECT_EQ(client->Put("../x", xt::xarray<uint8_t>{1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  const int64_t overflow[] = {int64_t{1} << 62, 4};
  EXPECT_EQ(client->Put("x", nullptr, overflow, DType::kInt8).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientTest, UnreachableServerIsUnavailableQuickly) {
  ClientOptions options;
  options.address = "unix:" + socket_dir_.path() + "/absent.sock";
  auto client = Client::Connect(options);
  const absl::Time start = absl::Now();
  absl::StatusOr<MatrixInfo> info = client->Info("m");
  EXPECT_EQ(info.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(info.status().message(), HasSubstr("absent.sock"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_F(ClientTest, AddressComesFromTheEnvironment) {
  setenv("MATCACHE_ADDRESS", unix_address().c_str(), 1);
  auto client = Client::Connect();
  unsetenv("MATCACHE_ADDRESS");
  EXPECT_EQ(client->address(), unix_address());
  EXPECT_TRUE(client->Put("m", xt::xarray<int8_t>{1, 2}).ok());
  EXPECT_EQ(Client::Connect()->address(), DefaultAddress());
}

// A new directory in /tmp of this user's, mode 0700 ("" if none).
std::string MakeTempDir() {
  char path[] = "/tmp/matcache_client_test.XXXXXX";
  return mkdtemp(path) != nullptr ? path : "";
}

std::string Touch(const std::string& path) {
  close(open(path.c_str(), O_CREAT | O_WRONLY, 0600));
  return path;
}

TEST_F(ClientTest, DefaultFilesAreInTheFirstServerDirThatHasThem) {
  const std::string first = MakeTempDir(), second = MakeTempDir();
  ASSERT_FALSE(first.empty() || second.empty());
  const char* const dirs[] = {first.c_str(), second.c_str()};
  EXPECT_EQ(ServerFile("matcached.sock", dirs), first + "/matcached.sock");
  const std::string in_second = Touch(second + "/matcached.sock");
  EXPECT_EQ(ServerFile("matcached.sock", dirs), in_second);
  const std::string in_first = Touch(first + "/matcached.sock");
  EXPECT_EQ(ServerFile("matcached.sock", dirs), in_first);
  EXPECT_EQ(DefaultAddress(), "unix:" + ServerFile("matcached.sock"));
  for (const std::string& path : {in_first, in_second}) unlink(path.c_str());
  rmdir(first.c_str());
  rmdir(second.c_str());
}

TEST_F(ClientTest, DefaultFilesAreNeverInADirAnotherUserCouldFillIn) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a directory away needs root";
  const std::string fallback = MakeTempDir(), planted = MakeTempDir();
  ASSERT_FALSE(fallback.empty() || planted.empty());
  const std::string in_planted = Touch(planted + "/matcached.sock");
  const std::string fallback_file = fallback + "/matcached.sock";
  const char* const dirs[] = {fallback.c_str(), planted.c_str()};
  // Made in /tmp by another user.
  ASSERT_EQ(chown(planted.c_str(), 65534, 65534), 0);
  EXPECT_EQ(ServerFile("matcached.sock", dirs), fallback_file);
  ASSERT_EQ(chown(planted.c_str(), geteuid(), -1), 0);
  EXPECT_EQ(ServerFile("matcached.sock", dirs), in_planted);
  // Open to the group's writes.
  ASSERT_EQ(chmod(planted.c_str(), 0770), 0);
  EXPECT_EQ(ServerFile("matcached.sock", dirs), fallback_file);
  ASSERT_EQ(chmod(planted.c_str(), 0750), 0);
  EXPECT_EQ(ServerFile("matcached.sock", dirs), in_planted);
  // A symbolic link to a trusted directory.
  const std::string link = fallback + "/link";
  ASSERT_EQ(symlink(planted.c_str(), link.c_str()), 0);
  const std::string link_with_slash = link + "/";
  for (const std::string& skipped : {link, link_with_slash}) {
    const char* const through_link[] = {fallback.c_str(), skipped.c_str()};
    EXPECT_EQ(ServerFile("matcached.sock", through_link), fallback_file);
  }
  // Nor the fallback: the first directory without the file, else none.
  ASSERT_EQ(chmod(planted.c_str(), 0777), 0);
  const char* const planted_first[] = {planted.c_str(), fallback.c_str()};
  EXPECT_EQ(ServerFile("matcached.sock", planted_first), fallback_file);
  const char* const planted_only[] = {planted.c_str()};
  EXPECT_EQ(ServerFile("matcached.sock", planted_only), "");
  for (const std::string& path : {link, in_planted}) unlink(path.c_str());
  rmdir(planted.c_str());
  rmdir(fallback.c_str());
}

TEST_F(ClientTest, AnotherUsersServerDirIsTrustedWhereOnlyRootCouldMakeIt) {
  if (geteuid() != 0) GTEST_SKIP() << "giving a directory away needs root";
  // As /run/matcache, which systemd gives to the service's user.
  const std::string parent = MakeTempDir();
  ASSERT_FALSE(parent.empty());
  const std::string service = parent + "/matcache";
  ASSERT_EQ(mkdir(service.c_str(), 0750), 0);
  const std::string in_service = Touch(service + "/matcached.sock");
  ASSERT_EQ(chown(service.c_str(), 65534, 65534), 0);
  const std::string absent = parent + "/absent";
  const char* const dirs[] = {absent.c_str(), service.c_str()};
  EXPECT_EQ(ServerFile("matcached.sock", dirs), in_service);
  // Once others may write to the parent, anyone could have made it.
  ASSERT_EQ(chmod(parent.c_str(), 0775), 0);
  EXPECT_EQ(ServerFile("matcached.sock", dirs), absent + "/matcached.sock");
  unlink(in_service.c_str());
  rmdir(service.c_str());
  rmdir(parent.c_str());
}

}  // namespace
}  // namespace matcache
