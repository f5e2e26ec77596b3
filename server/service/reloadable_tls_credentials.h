// ReloadableTlsCredentials: gRPC server credentials for TLS whose
// certificates can be replaced while the server runs. Handshakes after
// Replace use the new certificates; established connections keep theirs.
// Built on gRPC core's certificate config fetcher, which gRPC asks for the
// current certificates at every handshake.
//
// Thread-safe.
#ifndef MATCACHE_SERVER_SERVICE_RELOADABLE_TLS_CREDENTIALS_H_
#define MATCACHE_SERVER_SERVICE_RELOADABLE_TLS_CREDENTIALS_H_

#include <grpc/grpc_security.h>
#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace matcache {

// TLS for the TCP listeners (unix sockets stay plaintext), as PEM text.
struct TlsOptions {
  std::string certificate_chain;
  std::string private_key;
  // Non-empty: clients must present a certificate this CA signed.
  std::string client_ca;
};

class ReloadableTlsCredentials : public grpc::ServerCredentials {
 public:
  // Whether clients must present a certificate is decided here, by
  // `tls.client_ca`, once.
  explicit ReloadableTlsCredentials(TlsOptions tls);
  ~ReloadableTlsCredentials() override;

  // The certificates, key and client CA for handshakes from now on.
  void Replace(TlsOptions tls) ABSL_LOCKS_EXCLUDED(mu_);

  // Not supported: matcached authorizes calls itself (AccessPolicy).
  void SetAuthMetadataProcessor(
      const std::shared_ptr<grpc::AuthMetadataProcessor>& processor) override;

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override;
  // The fetcher gRPC calls at each handshake (`self` is this).
  static grpc_ssl_certificate_config_reload_status Fetch(
      void* self, grpc_ssl_server_certificate_config** config);

  absl::Mutex mu_;
  TlsOptions tls_ ABSL_GUARDED_BY(mu_);
  // Whether gRPC has not yet been given tls_.
  bool changed_ ABSL_GUARDED_BY(mu_) = true;
  grpc_server_credentials* const credentials_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_SERVICE_RELOADABLE_TLS_CREDENTIALS_H_
