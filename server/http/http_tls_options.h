// HttpTlsOptions: what an HTTPS listener serves with, as PEM text.
#ifndef MATCACHE_SERVER_HTTP_HTTP_TLS_OPTIONS_H_
#define MATCACHE_SERVER_HTTP_HTTP_TLS_OPTIONS_H_

#include <string>

namespace matcache {

struct HttpTlsOptions {
  std::string certificate_chain;  // PEM, the server's certificate first
  std::string private_key;        // PEM
  // Non-empty: clients are asked for a certificate, checked against these
  // PEM CA certificates (see HttpRequest::client_verified).
  std::string client_ca;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_HTTP_TLS_OPTIONS_H_
