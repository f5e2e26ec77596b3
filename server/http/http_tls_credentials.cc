#include "server/http/http_tls_credentials.h"

#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace matcache {

namespace {

// Certificates a chain may hold: the server's and its intermediates.
constexpr unsigned int kMaxChainLength = 16;

gnutls_datum_t Datum(const std::string& text) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(text.data())),
          static_cast<unsigned int>(text.size())};
}

absl::Status Unusable(absl::string_view part, int error) {
  return absl::InvalidArgumentError(absl::StrCat(
      "the HTTPS ", part, " is unusable: ", gnutls_strerror(error)));
}

// The key ID (a SHA-256 of the public key) of `key`, empty on failure.
std::string KeyId(gnutls_pubkey_t key) {
  unsigned char id[64];
  size_t size = sizeof(id);
  if (gnutls_pubkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, id, &size) < 0) {
    return "";
  }
  return std::string(reinterpret_cast<char*>(id), size);
}

std::string KeyId(gnutls_privkey_t key) {
  gnutls_pubkey_t pub = nullptr;
  if (gnutls_pubkey_init(&pub) < 0) return "";
  std::string id;
  if (gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0) id = KeyId(pub);
  gnutls_pubkey_deinit(pub);
  return id;
}

// X.509 certificates parsed from a peer's DER list, freed with it.
class PeerChain {
 public:
  explicit PeerChain(gnutls_session_t session) {
    unsigned int count = 0;
    const gnutls_datum_t* raw = gnutls_certificate_get_peers(session, &count);
    if (raw == nullptr) return;
    for (unsigned int i = 0; i < count; ++i) {
      gnutls_x509_crt_t cert = nullptr;
      if (gnutls_x509_crt_init(&cert) < 0) break;
      certs_.push_back(cert);
      if (gnutls_x509_crt_import(cert, &raw[i], GNUTLS_X509_FMT_DER) < 0) {
        parsed_ = false;
        return;
      }
    }
    parsed_ = !certs_.empty() && certs_.size() == count;
  }
  ~PeerChain() {
    for (gnutls_x509_crt_t cert : certs_) gnutls_x509_crt_deinit(cert);
  }
  PeerChain(const PeerChain&) = delete;
  PeerChain& operator=(const PeerChain&) = delete;

  // False if the peer sent none, or one that does not parse.
  bool parsed() const { return parsed_; }
  gnutls_x509_crt_t* data() { return certs_.data(); }
  unsigned int size() const { return static_cast<unsigned int>(certs_.size()); }

 private:
  std::vector<gnutls_x509_crt_t> certs_;
  bool parsed_ = false;
};

}  // namespace

absl::StatusOr<std::shared_ptr<const HttpTlsCredentials>>
HttpTlsCredentials::FromPem(const HttpTlsOptions& pem) {
  std::shared_ptr<HttpTlsCredentials> credentials(new HttpTlsCredentials);
  std::vector<gnutls_pcert_st> chain(kMaxChainLength);
  unsigned int length = kMaxChainLength;
  const gnutls_datum_t chain_pem = Datum(pem.certificate_chain);
  int error = gnutls_pcert_list_import_x509_raw(
      chain.data(), &length, &chain_pem, GNUTLS_X509_FMT_PEM,
      GNUTLS_X509_CRT_LIST_SORT);
  if (error < 0) return Unusable("certificate chain", error);
  chain.resize(length);
  credentials->chain_ = std::move(chain);

  const gnutls_datum_t key_pem = Datum(pem.private_key);
  if ((error = gnutls_privkey_init(&credentials->key_)) < 0 ||
      (error = gnutls_privkey_import_x509_raw(credentials->key_, &key_pem,
                                              GNUTLS_X509_FMT_PEM, nullptr, 0)) < 0) {
    return Unusable("private key", error);
  }
  const std::string key_id = KeyId(credentials->key_);
  if (key_id.empty() || key_id != KeyId(credentials->chain_.front().pubkey)) {
    return absl::InvalidArgumentError(
        "the HTTPS private key is not that of the certificate (the first of "
        "the chain)");
  }

  if (!pem.client_ca.empty()) {
    if ((error = gnutls_x509_trust_list_init(&credentials->client_ca_, 0)) < 0) {
      return Unusable("client CA", error);
    }
    const gnutls_datum_t ca_pem = Datum(pem.client_ca);
    const int added = gnutls_x509_trust_list_add_trust_mem(
        credentials->client_ca_, &ca_pem, nullptr, GNUTLS_X509_FMT_PEM, 0, 0);
    if (added < 0) return Unusable("client CA", added);
    if (added == 0) {
      return absl::InvalidArgumentError(
          "the HTTPS client CA holds no certificate");
    }
  }
  return credentials;
}

HttpTlsCredentials::~HttpTlsCredentials() {
  for (gnutls_pcert_st& cert : chain_) gnutls_pcert_deinit(&cert);
  if (key_ != nullptr) gnutls_privkey_deinit(key_);
  if (client_ca_ != nullptr) gnutls_x509_trust_list_deinit(client_ca_, 1);
}

void HttpTlsCredentials::Present(gnutls_pcert_st** chain,
                                 unsigned int* chain_length,
                                 gnutls_privkey_t* key) const {
  *chain = const_cast<gnutls_pcert_st*>(chain_.data());
  *chain_length = static_cast<unsigned int>(chain_.size());
  *key = key_;
}

bool HttpTlsCredentials::VerifiesClient(gnutls_session_t session) const {
  if (client_ca_ == nullptr) return false;
  PeerChain peer(session);
  if (!peer.parsed()) return false;
  gnutls_typed_vdata_st purpose{};
  purpose.type = GNUTLS_DT_KEY_PURPOSE_OID;
  purpose.data = reinterpret_cast<unsigned char*>(
      const_cast<char*>(GNUTLS_KP_TLS_WWW_CLIENT));
  unsigned int verdict = 0;
  return gnutls_x509_trust_list_verify_crt2(client_ca_, peer.data(), peer.size(),
                                            &purpose, 1, 0, &verdict,
                                            nullptr) == GNUTLS_E_SUCCESS &&
         verdict == 0;
}

}  // namespace matcache
