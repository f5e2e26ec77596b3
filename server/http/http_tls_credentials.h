// HttpTlsCredentials: an HTTPS listener's certificate chain and private key
// and the CAs that client certificates are checked against, parsed from
// HttpTlsOptions once, for GnuTLS. HttpServer hands them to each TLS
// handshake from a callback, so that a set made later (a reload) serves the
// handshakes after it while every connection keeps the set its handshake
// used.
//
// Immutable, hence thread-safe.
#ifndef MATCACHE_SERVER_HTTP_HTTP_TLS_CREDENTIALS_H_
#define MATCACHE_SERVER_HTTP_HTTP_TLS_CREDENTIALS_H_

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "server/http/http_tls_options.h"

namespace matcache {

class HttpTlsCredentials {
 public:
  // INVALID_ARGUMENT naming the part (certificate chain, key, client CA)
  // that cannot be parsed, or if the key is not that of the first
  // certificate.
  static absl::StatusOr<std::shared_ptr<const HttpTlsCredentials>> FromPem(
      const HttpTlsOptions& pem);

  ~HttpTlsCredentials();

  HttpTlsCredentials(const HttpTlsCredentials&) = delete;
  HttpTlsCredentials& operator=(const HttpTlsCredentials&) = delete;

  // Whether a client CA was given.
  bool verifies_clients() const { return client_ca_ != nullptr; }

  // The outputs of a gnutls_certificate_retrieve_function2 on a server:
  // the chain and the key, which stay this object's.
  void Present(gnutls_pcert_st** chain, unsigned int* chain_length,
               gnutls_privkey_t* key) const;

  // Whether the peer of `session` presented a certificate chain that one of
  // the client CAs signed, valid now and not limited to other purposes than
  // TLS client authentication. False without client CAs.
  bool VerifiesClient(gnutls_session_t session) const;

 private:
  HttpTlsCredentials() = default;

  std::vector<gnutls_pcert_st> chain_;  // each imported
  gnutls_privkey_t key_ = nullptr;
  gnutls_x509_trust_list_t client_ca_ = nullptr;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_HTTP_TLS_CREDENTIALS_H_
