// matcached's access flags (see flags.h).
#include "server/matcached/flags.h"

#include <fstream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"
#include "server/core/storage/unix_group.h"
#include "server/access/access_policy.h"

ABSL_FLAG(std::string, group, "",
          "Group whose members may use the unix sockets and map the matrices: "
          "segments become 0440 (0660 while being written) and sockets 0660 "
          "in a 0750 directory, all of that group. Empty: only the server's "
          "user (0400, 0600, 0700).");
ABSL_FLAG(std::string, write_token_file, "",
          "File holding the token that calls changing the catalogue (Create, "
          "Commit, Abort, Put, Delete, Load, Pin, Unpin) must send as "
          "'authorization: Bearer TOKEN'. Must not be readable by every "
          "user. Empty: no token needed.");
ABSL_FLAG(std::string, read_token_file, "",
          "File holding the token that reading calls (Info, List, Read, "
          "Preview, Stats) must send; the write token also opens them. "
          "Empty: reading needs no token.");
ABSL_FLAG(std::string, tcp_auth, "token",
          "What TCP calls need when no token file is given and TLS does not "
          "check client certificates: 'token', the access token the server "
          "makes at its first start and keeps in access.token beside its "
          "first unix socket (readable by its user and --group only; "
          "clients that can read it use it by themselves), or 'none': every "
          "user who can reach a TCP port may read and change every matrix. "
          "Health checks need no token.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain for the TCP listeners; with --tls_key, TCP "
          "clients must use TLS. Unix sockets stay plaintext.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates: TCP clients must present a certificate signed "
          "by one of them (mutual TLS). Needs --tls_cert.");

namespace matcache {
namespace {

// Larger files are not certificates or keys.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

// The contents of the PEM file named by --`flag`, which must hold a block
// with `label` ("CERTIFICATE", "PRIVATE KEY").
absl::StatusOr<std::string> ReadPemFile(absl::string_view flag,
                                        const std::string& path,
                                        absl::string_view label) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, "=", path, ": cannot open the file"));
  }
  std::string contents(static_cast<size_t>(kMaxPemBytes) + 1, '\0');
  file.read(contents.data(), static_cast<std::streamsize>(contents.size()));
  contents.resize(static_cast<size_t>(file.gcount()));
  if (contents.size() > static_cast<size_t>(kMaxPemBytes) ||
      !absl::StrContains(contents, "-----BEGIN ") ||
      !absl::StrContains(contents, absl::StrCat(label, "-----"))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", flag, "=", path, ": not a PEM file with a ", label));
  }
  return contents;
}

absl::Status ApplyTokenFlags(ServerOptions* options) {
  std::string tokens[2];
  const std::string paths[2] = {absl::GetFlag(FLAGS_read_token_file),
                                absl::GetFlag(FLAGS_write_token_file)};
  for (int i = 0; i < 2; ++i) {
    if (paths[i].empty()) continue;
    absl::StatusOr<std::string> token = ReadTokenFile(paths[i]);
    if (!token.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          i == 0 ? "--read_token_file: " : "--write_token_file: ",
          token.status().message()));
    }
    tokens[i] = *std::move(token);
  }
  if (!tokens[0].empty() && tokens[1].empty()) {
    return absl::InvalidArgumentError(
        "--read_token_file needs --write_token_file too: otherwise changing "
        "matrices would need less than reading them");
  }
  if (!tokens[0].empty() && tokens[0] == tokens[1]) {
    return absl::InvalidArgumentError(
        "--read_token_file and --write_token_file hold the same token");
  }
  options->access = AccessPolicy(tokens[0], tokens[1]);
  return absl::OkStatus();
}

absl::Status ApplyTlsFlags(ServerOptions* options) {
  const std::string cert = absl::GetFlag(FLAGS_tls_cert);
  const std::string key = absl::GetFlag(FLAGS_tls_key);
  const std::string client_ca = absl::GetFlag(FLAGS_tls_client_ca);
  if (cert.empty() && key.empty() && client_ca.empty()) return absl::OkStatus();
  if (cert.empty() || key.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls_cert and --tls_key (--tls_client_ca adds "
        "client certificates to them)");
  }
  TlsOptions tls;
  ASSIGN_OR_RETURN(tls.certificate_chain,
                   ReadPemFile("tls_cert", cert, "CERTIFICATE"));
  ASSIGN_OR_RETURN(tls.private_key, ReadPemFile("tls_key", key, "PRIVATE KEY"));
  if (!client_ca.empty()) {
    ASSIGN_OR_RETURN(tls.client_ca,
                     ReadPemFile("tls_client_ca", client_ca, "CERTIFICATE"));
  }
  options->tls = std::move(tls);
  return absl::OkStatus();
}

bool IsLoopback(const ListenAddress& address) {
  const std::string host = address.uri.substr(0, address.uri.rfind(':'));
  return absl::StartsWith(host, "127.") || host == "[::1]" || host == "localhost";
}

absl::Status ApplyTcpAuthFlag(ServerOptions* options) {
  const std::string tcp_auth = absl::GetFlag(FLAGS_tcp_auth);
  if (tcp_auth == "token") {
    options->tcp_auth = TcpAuth::kToken;
  } else if (tcp_auth == "none") {
    options->tcp_auth = TcpAuth::kNone;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tcp_auth=", tcp_auth, ": expected 'token' or 'none'"));
  }
  for (const ListenAddress& address : options->listen) {
    if (address.is_unix) continue;
    if (options->tcp_auth == TcpAuth::kNone && !options->access.has_tokens()) {
      LogWarning("--tcp_auth=none: every user who can reach %s may read and "
                 "change every matrix",
                 address.uri);
    }
    if (!options->tls.has_value() && !IsLoopback(address)) {
      LogWarning("%s is not a loopback address and has no TLS: tokens and "
                 "data cross the network in the clear (--tls_cert, --tls_key)",
                 address.uri);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyCredentialFlags(ServerOptions* options) {
  RETURN_IF_ERROR(ApplyTokenFlags(options));
  return ApplyTlsFlags(options);
}

absl::Status ApplyAccessFlags(ServerOptions* options) {
  const std::string group = absl::GetFlag(FLAGS_group);
  if (!group.empty()) {
    absl::StatusOr<gid_t> gid = LookUpOwnGroup(group);
    if (!gid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--group=", group, ": ", gid.status().message()));
    }
    options->group = *gid;
  }
  RETURN_IF_ERROR(ApplyCredentialFlags(options));
  bool any_tcp = false;
  for (const ListenAddress& address : options->listen) any_tcp |= !address.is_unix;
  if (options->tls.has_value() && !any_tcp) {
    LogWarning("TLS flags given but no TCP address to listen on; unix "
               "sockets stay plaintext");
  }
  return ApplyTcpAuthFlag(options);
}

}  // namespace matcache
