#include "server/service/reloadable_tls_credentials.h"

#include <grpc/grpc.h>

#include <utility>

namespace matcache {

ReloadableTlsCredentials::ReloadableTlsCredentials(TlsOptions tls)
    : tls_(std::move(tls)),
      credentials_(grpc_ssl_server_credentials_create_with_options(
          grpc_ssl_server_credentials_create_options_using_config_fetcher(
              tls_.client_ca.empty()
                  ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                  : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY,
              &ReloadableTlsCredentials::Fetch, this))) {}

ReloadableTlsCredentials::~ReloadableTlsCredentials() {
  grpc_server_credentials_release(credentials_);
}

void ReloadableTlsCredentials::Replace(TlsOptions tls) {
  absl::MutexLock lock(&mu_);
  tls_ = std::move(tls);
  changed_ = true;
}

void ReloadableTlsCredentials::SetAuthMetadataProcessor(
    const std::shared_ptr<grpc::AuthMetadataProcessor>& /*processor*/) {}

int ReloadableTlsCredentials::AddPortToServer(const std::string& addr,
                                              grpc_server* server) {
  return grpc_server_add_http2_port(server, addr.c_str(), credentials_);
}

grpc_ssl_certificate_config_reload_status ReloadableTlsCredentials::Fetch(
    void* self, grpc_ssl_server_certificate_config** config) {
  auto* credentials = static_cast<ReloadableTlsCredentials*>(self);
  absl::MutexLock lock(&credentials->mu_);
  if (!credentials->changed_) return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_UNCHANGED;
  const TlsOptions& tls = credentials->tls_;
  // gRPC copies the PEM text and owns the config. It requires root
  // certificates even when it asks clients for none: then it never uses
  // them, and the server's own chain stands in.
  grpc_ssl_pem_key_cert_pair pair = {tls.private_key.c_str(),
                                     tls.certificate_chain.c_str()};
  const std::string& roots =
      tls.client_ca.empty() ? tls.certificate_chain : tls.client_ca;
  *config = grpc_ssl_server_certificate_config_create(roots.c_str(), &pair, 1);
  credentials->changed_ = false;
  return GRPC_SSL_CERTIFICATE_CONFIG_RELOAD_NEW;
}

}  // namespace matcache
