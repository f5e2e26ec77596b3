#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace matcache {
namespace {

// A parsed "HOST:PORT".
struct SocketAddress {
  sockaddr_storage storage{};
  std::string host;  // as written, brackets removed
  bool ipv6 = false;
};

absl::StatusOr<SocketAddress> ParseAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  uint32_t port = 0;
  if (colon == absl::string_view::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "HTTP address \"", address, "\" is not HOST:PORT (e.g. 127.0.0.1:7471)"));
  }
  SocketAddress parsed;
  absl::string_view host = address.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
    parsed.ipv6 = true;
  }
  parsed.host = std::string(host);
  if (parsed.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&parsed.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, parsed.host.c_str(), &in6->sin6_addr) == 1) {
      return parsed;
    }
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&parsed.storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(static_cast<uint16_t>(port));
    if (parsed.host == "localhost") parsed.host = "127.0.0.1";
    if (inet_pton(AF_INET, parsed.host.c_str(), &in4->sin_addr) == 1) {
      return parsed;
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "HTTP address \"", address, "\": \"", host,
      "\" is not an IPv4 address or a bracketed IPv6 one"));
}

MHD_Result CollectQuery(void* cls, MHD_ValueKind, const char* key,
                        const char* value) {
  auto* query = static_cast<std::map<std::string, std::string>*>(cls);
  (*query)[key] = value != nullptr ? value : "";
  return MHD_YES;
}

// libmicrohttpd's access handler: builds the HttpRequest, asks the handler
// and queues its response. Request bodies are refused until a route takes
// them.
MHD_Result Dispatch(void* cls, MHD_Connection* connection, const char* url,
                    const char* method, const char* /*version*/,
                    const char* /*upload_data*/, size_t* upload_data_size,
                    void** request_state) {
  // The first call only announces the request; answer on the second, after
  // the headers (and for now any body) have been read.
  if (*request_state == nullptr) {
    *request_state = connection;
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    *upload_data_size = 0;  // discarded: no route takes a body yet
    return MHD_YES;
  }
  const auto& handler = *static_cast<const HttpServer::Handler*>(cls);
  HttpRequest request;
  request.method = method;
  request.path = url;
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery,
                            &request.query);
  if (const char* authorization = MHD_lookup_connection_value(
          connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION)) {
    request.authorization = authorization;
  }
  if (const char* etags = MHD_lookup_connection_value(
          connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH)) {
    request.if_none_match = etags;
  }
  const HttpResponse answer = handler(request);
  MHD_Response* response = MHD_create_response_from_buffer(
      answer.body.size(), const_cast<char*>(answer.body.data()),
      MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          answer.content_type.c_str());
  for (const auto& [name, value] : answer.headers) {
    MHD_add_response_header(response, name.c_str(), value.c_str());
  }
  const MHD_Result queued =
      MHD_queue_response(connection, static_cast<unsigned>(answer.status), response);
  MHD_destroy_response(response);
  return queued;
}

}  // namespace

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, Handler handler) {
  std::unique_ptr<HttpServer> server(new HttpServer(std::move(handler)));
  for (const std::string& address : options.listen) {
    absl::StatusOr<SocketAddress> parsed = ParseAddress(address);
    if (!parsed.ok()) return parsed.status();
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
    if (parsed->ipv6) flags |= MHD_USE_IPv6;
    MHD_Daemon* daemon = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Dispatch,
        const_cast<Handler*>(&server->handler_),
        MHD_OPTION_SOCK_ADDR, reinterpret_cast<sockaddr*>(&parsed->storage),
        MHD_OPTION_THREAD_POOL_SIZE, static_cast<unsigned>(options.threads),
        MHD_OPTION_CONNECTION_LIMIT, options.connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.connections_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, options.timeout_seconds,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, options.connection_memory_bytes,
        // SO_REUSEADDR only, never SO_REUSEPORT: one server per port.
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 0u,
        MHD_OPTION_END);
    if (daemon == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen for HTTP on ", address,
          ": another process may be using it, or it is no address of this host"));
    }
    server->daemons_.push_back(daemon);
    const MHD_DaemonInfo* info =
        MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    const uint16_t port = info != nullptr ? info->port : 0;
    server->addresses_.push_back(parsed->ipv6
                                     ? absl::StrCat("[", parsed->host, "]:", port)
                                     : absl::StrCat(parsed->host, ":", port));
  }
  return server;
}

HttpServer::~HttpServer() {
  for (MHD_Daemon* daemon : daemons_) MHD_stop_daemon(daemon);
}

}  // namespace matcache
