// TLS on the TCP listeners, with and without client certificates, through
// the C++ client against a real server.
#include <fstream>
#include <sstream>
#include <string>

#include "matcache/client.h"
#include "gtest/gtest.h"
#include "tests/support/server_test_base.h"

namespace matcache {
namespace {

std::string ReadTestFile(const std::string& name) {
  std::ifstream file(std::string(MATCACHE_TLS_TESTDATA) + "/" + name);
  EXPECT_TRUE(file.good()) << name;
  std::stringstream contents;
  contents << file.rdbuf();
  return contents.str();
}

class TlsTest : public matcache::testing::ServerTestBase {
 protected:
  void SetUp() override {}  // each test starts the server it needs

  void StartTlsServer(bool require_client_certificates) {
    ServerOptions options = Options();
    TlsOptions tls;
    tls.certificate_chain = ReadTestFile("server.pem");
    tls.private_key = ReadTestFile("server.key");
    if (require_client_certificates) tls.client_ca = ReadTestFile("ca.pem");
    options.tls = tls;
    StartServer(options);
  }

  std::unique_ptr<Client> Connect(std::optional<ClientOptions::Tls> tls) {
    ClientOptions options;
    options.address = tcp_address();
    options.token_file = access_token_file();
    options.local = LocalMode::kNever;
    options.timeout = absl::Seconds(5);
    options.tls = std::move(tls);
    return Client::Connect(options);
  }

  static ClientOptions::Tls TrustingTheServer() {
    ClientOptions::Tls tls;
    tls.root_certs = ReadTestFile("ca.pem");
    return tls;
  }

  static ClientOptions::Tls WithClientCertificate() {
    ClientOptions::Tls tls = TrustingTheServer();
    tls.cert_chain = ReadTestFile("client.pem");
    tls.private_key = ReadTestFile("client.key");
    return tls;
  }
};

TEST_F(TlsTest, TcpNeedsTlsAndTheUnixSocketStaysPlaintext) {
  StartTlsServer(/*require_client_certificates=*/false);
  const xt::xarray<int32_t> matrix = {{1, 2}, {3, 4}};
  auto client = Connect(TrustingTheServer());
  ASSERT_TRUE(client->Put("m", matrix).ok());
  absl::StatusOr<xt::xarray<int32_t>> read = client->Read<int32_t>("m");
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(*read, matrix);

  absl::Status plaintext = Connect(std::nullopt)->Info("m").status();
  EXPECT_TRUE(absl::IsUnavailable(plaintext)) << plaintext;
  ClientOptions::Tls stranger;  // trusts only a CA that did not sign it
  stranger.root_certs = ReadTestFile("client.pem");
  EXPECT_TRUE(absl::IsUnavailable(Connect(stranger)->Info("m").status()));

  ClientOptions options;
  options.address = unix_address();
  EXPECT_TRUE(Client::Connect(options)->Info("m").ok());
}

TEST_F(TlsTest, ClientCertificatesWhenTheServerRequiresThem) {
  StartTlsServer(/*require_client_certificates=*/true);
  absl::Status anonymous =
      Connect(TrustingTheServer())->Put("m", xt::xarray<int8_t>{1}).status();
  EXPECT_TRUE(absl::IsUnavailable(anonymous)) << anonymous;
  auto client = Connect(WithClientCertificate());
  ASSERT_TRUE(client->Put("m", xt::xarray<int8_t>{1}).ok());
  EXPECT_TRUE(client->Info("m").ok());
}

}  // namespace
}  // namespace matcache
