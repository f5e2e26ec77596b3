#include "server/http/http_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/core/base/status_macros.h"
#include "server/http/header_deadlines.h"
#include "server/http/http_tls_credentials.h"

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
  auto* request = static_cast<HttpRequest*>(cls);
  auto [it, inserted] =
      request->query.insert_or_assign(key, value != nullptr ? value : "");
  if (!inserted && !request->repeated_query.has_value()) {
    request->repeated_query = it->first;
  }
  return MHD_YES;
}

std::optional<std::string> Header(MHD_Connection* connection, const char* name) {
  const char* value =
      MHD_lookup_connection_value(connection, MHD_HEADER_KIND, name);
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Bytes of an event body asked for per read: a few events.
constexpr size_t kEventBlockBytes = 16 << 10;

ssize_t ReadBody(void* cls, uint64_t /*position*/, char* out, size_t capacity) {
  const size_t copied = static_cast<HttpBody*>(cls)->Read(out, capacity);
  return copied == 0 ? MHD_CONTENT_READER_END_WITH_ERROR
                     : static_cast<ssize_t>(copied);
}

void FreeBody(void* cls) { delete static_cast<HttpBody*>(cls); }

void ReleaseOwner(void* cls) { delete static_cast<std::shared_ptr<const void>*>(cls); }

}  // namespace

// The response of one HttpEventBody: the body, its connection, and whether
// that is suspended. Shared by the response, until libmicrohttpd frees it,
// and by the body's wake function, which may outlive it.
struct HttpEventStream {
  HttpEventStream(std::unique_ptr<HttpEventBody> body, MHD_Connection* connection,
                  HttpServer* server)
      : body(std::move(body)), connection(connection), server(server) {}

  // A response sending `body` on `connection`, registered with `server`
  // until it is freed; null if libmicrohttpd cannot make one.
  static MHD_Response* Respond(HttpServer* server, MHD_Connection* connection,
                               std::unique_ptr<HttpEventBody> body) {
    auto stream =
        std::make_shared<HttpEventStream>(std::move(body), connection, server);
    auto* holder = new std::shared_ptr<HttpEventStream>(stream);
    MHD_Response* response = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, kEventBlockBytes, &HttpEventStream::Read, holder,
        &HttpEventStream::Free);
    if (response == nullptr) {
      delete holder;
      return nullptr;
    }
    {
      absl::MutexLock lock(&server->streams_mu_);
      server->streams_.insert(stream.get());
      if (server->stopping_) stream->Wake(/*end=*/true);
    }
    stream->body->Start([weak = std::weak_ptr<HttpEventStream>(stream)] {
      if (std::shared_ptr<HttpEventStream> alive = weak.lock()) alive->Wake(false);
    });
    return response;
  }

  // libmicrohttpd's content reader: Read, suspending the connection when
  // there is nothing yet (a reader that returns 0 is called again at once).
  static ssize_t Read(void* cls, uint64_t /*position*/, char* out,
                      size_t capacity) {
    HttpEventStream& stream = **static_cast<std::shared_ptr<HttpEventStream>*>(cls);
    {
      absl::MutexLock lock(&stream.mu);
      if (stream.ending) return MHD_CONTENT_READER_END_OF_STREAM;
      stream.woken = false;
    }
    const int64_t read = stream.body->Read(out, capacity);
    if (read == HttpEventBody::kEnd) return MHD_CONTENT_READER_END_OF_STREAM;
    if (read != HttpEventBody::kNothingYet) return static_cast<ssize_t>(read);
    absl::MutexLock lock(&stream.mu);
    if (!stream.woken && !stream.ending) {
      stream.suspended = true;
      MHD_suspend_connection(stream.connection);
    }
    return 0;
  }

  // libmicrohttpd is done with the response.
  static void Free(void* cls) {
    auto* holder = static_cast<std::shared_ptr<HttpEventStream>*>(cls);
    HttpEventStream& stream = **holder;
    {
      absl::MutexLock lock(&stream.server->streams_mu_);
      stream.server->streams_.erase(&stream);
    }
    {
      absl::MutexLock lock(&stream.mu);
      stream.freed = true;
    }
    // Here, unlocked: the body's destructor may wait for its wake function.
    stream.body.reset();
    delete holder;
  }

  // Has Read called again; with `end`, for the last time.
  void Wake(bool end) {
    absl::MutexLock lock(&mu);
    woken = true;
    ending = ending || end;
    if (suspended && !freed) {
      suspended = false;
      MHD_resume_connection(connection);
    }
  }

  std::unique_ptr<HttpEventBody> body;  // used on the connection's thread
  MHD_Connection* const connection;
  HttpServer* const server;
  absl::Mutex mu;
  bool suspended ABSL_GUARDED_BY(mu) = false;
  bool woken ABSL_GUARDED_BY(mu) = false;  // since Read last began
  bool ending ABSL_GUARDED_BY(mu) = false;
  bool freed ABSL_GUARDED_BY(mu) = false;
};

namespace {

MHD_Result Queue(HttpServer* server, MHD_Connection* connection,
                 HttpResponse answer) {
  MHD_Response* response = nullptr;
  if (answer.events != nullptr) {
    response =
        HttpEventStream::Respond(server, connection, std::move(answer.events));
  } else if (answer.stream != nullptr) {
    response = MHD_create_response_from_callback(
        static_cast<uint64_t>(answer.stream_bytes), HttpServer::kBodyBlockBytes,
        &ReadBody, answer.stream.get(), &FreeBody);
    if (response != nullptr) answer.stream.release();  // FreeBody's now
  } else if (!answer.regions.empty()) {
    std::vector<MHD_IoVec> iov;
    for (absl::string_view region : answer.regions) {
      iov.push_back({region.data(), region.size()});
    }
    auto* owner = new std::shared_ptr<const void>(std::move(answer.owner));
    response = MHD_create_response_from_iovec(
        iov.data(), static_cast<unsigned>(iov.size()), &ReleaseOwner, owner);
    if (response == nullptr) delete owner;
  } else {
    response = MHD_create_response_from_buffer(
        answer.body.size(), answer.body.data(), MHD_RESPMEM_MUST_COPY);
  }
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE,
                          answer.content_type.c_str());
  for (const auto& [name, value] : answer.headers) {
    MHD_add_response_header(response, name.c_str(), value.c_str());
  }
  const MHD_Result queued = MHD_queue_response(
      connection, static_cast<unsigned>(answer.status), response);
  MHD_destroy_response(response);
  return queued;
}

// What libmicrohttpd keeps for one request between calls.
struct RequestState {
  std::unique_ptr<HttpUpload> upload;
  // The answer, once decided, for the call after the body (if any) was read
  // (discarding what an upload no longer takes): libmicrohttpd queues
  // responses only before a body or after all of it, and one queued before
  // closes the connection.
  std::optional<HttpResponse> answer;
};

// Whether a request announces a body.
bool HasBody(MHD_Connection* connection) {
  const std::optional<std::string> length =
      Header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
  return (length.has_value() && *length != "0") ||
         Header(connection, MHD_HTTP_HEADER_TRANSFER_ENCODING).has_value();
}

}  // namespace

// What a connection holds from its start to its close.
struct HttpConnectionState {
  explicit HttpConnectionState(HttpServer* server) : server(server) {}

  HttpServer* const server;
  // Over HTTPS, from its handshake on: the credentials that handshake used.
  std::shared_ptr<const HttpTlsCredentials> tls;
};

// libmicrohttpd's calls about connections and requests beginning and
// ending, besides the access handler's.
struct HttpDispatch {
  // The headers of a connection's first request are awaited from its start
  // (its TLS handshake, if any, included), and it is forgotten before its
  // socket is closed.
  static void ConnectionEvent(void* cls, MHD_Connection* connection,
                              void** socket_state,
                              MHD_ConnectionNotificationCode event) {
    auto* server = static_cast<HttpServer*>(cls);
    if (event == MHD_CONNECTION_NOTIFY_STARTED) {
      *socket_state = new HttpConnectionState(server);
      server->header_deadlines_->Await(connection);
    } else {
      server->header_deadlines_->Forget(connection);
      delete static_cast<HttpConnectionState*>(*socket_state);
      *socket_state = nullptr;
    }
  }

  static HttpConnectionState& StateOf(MHD_Connection* connection) {
    return *static_cast<HttpConnectionState*>(
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_SOCKET_CONTEXT)
            ->socket_context);
  }

  // GnuTLS asks for the server's certificate during a handshake (a
  // gnutls_certificate_retrieve_function2): the credentials in force then,
  // kept by the connection. Clients asked for a certificate get no list of
  // CA names, which would be those of the start.
  static int PresentCertificate(gnutls_session_t session,
                                const gnutls_datum_t* /*req_ca_rdn*/,
                                int /*nreqs*/,
                                const gnutls_pk_algorithm_t* /*pk_algos*/,
                                int /*pk_algos_length*/, gnutls_pcert_st** chain,
                                unsigned int* chain_length,
                                gnutls_privkey_t* key) {
    // libmicrohttpd sets each session's pointer to its connection.
    HttpConnectionState& state =
        StateOf(static_cast<MHD_Connection*>(gnutls_session_get_ptr(session)));
    if (state.tls == nullptr) state.tls = state.server->tls();
    gnutls_certificate_send_x509_rdn_sequence(session, 1);
    state.tls->Present(chain, chain_length, key);
    return 0;
  }

  // Whether the TLS client of `connection` presented a certificate that its
  // handshake's client CAs verify.
  static bool ClientVerified(MHD_Connection* connection) {
    const HttpConnectionState& state = StateOf(connection);
    const MHD_ConnectionInfo* info =
        MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (state.tls == nullptr || info == nullptr || info->tls_session == nullptr) {
      return false;
    }
    return state.tls->VerifiesClient(
        static_cast<gnutls_session_t>(info->tls_session));
  }

  // A request ended: those of the next request are awaited. (A connection
  // that is closing instead is forgotten right after.)
  static void RequestCompleted(void* cls, MHD_Connection* connection,
                               void** request_state, MHD_RequestTerminationCode) {
    delete static_cast<RequestState*>(*request_state);
    *request_state = nullptr;
    static_cast<HttpServer*>(cls)->header_deadlines_->Await(connection);
  }

  // libmicrohttpd's access handler. The first call, once the headers are
  // read, asks the handler; an upload then gets the body in later calls, and
  // the call after its last piece finishes it.
  static MHD_Result Handle(void* cls, MHD_Connection* connection,
                           const char* url, const char* method,
                           const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** request_state) {
    auto* state = static_cast<RequestState*>(*request_state);
    HttpServer& server = *static_cast<HttpServer*>(cls);
    if (state == nullptr) {
      server.header_deadlines_->Forget(connection);
      state = new RequestState;
      *request_state = state;
      return Start(server, connection, url, method, state);
    }
    if (*upload_data_size != 0) {
      if (!state->answer.has_value()) {
        state->answer = state->upload->Receive(
            absl::string_view(upload_data, *upload_data_size));
      }
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (!state->answer.has_value()) state->answer = state->upload->Finish();
    return Queue(&server, connection, *std::move(state->answer));
  }

  static MHD_Result Start(HttpServer& server, MHD_Connection* connection,
                          const char* url, const char* method,
                          RequestState* state) {
    HttpRequest request;
    request.method = method;
    request.path = url;
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery,
                              &request);
    request.authorization = Header(connection, MHD_HTTP_HEADER_AUTHORIZATION);
    request.if_match = Header(connection, MHD_HTTP_HEADER_IF_MATCH);
    request.if_none_match = Header(connection, MHD_HTTP_HEADER_IF_NONE_MATCH);
    request.content_length = Header(connection, MHD_HTTP_HEADER_CONTENT_LENGTH);
    request.client_verified = server.verify_clients_ && ClientVerified(connection);
    HttpAnswer answer = server.handler_(request);
    if (auto* upload = std::get_if<std::unique_ptr<HttpUpload>>(&answer)) {
      state->upload = std::move(*upload);
      return MHD_YES;
    }
    HttpResponse response = std::get<HttpResponse>(std::move(answer));
    // A body nobody takes is refused at once, closing the connection, so
    // that a client is not kept sending it; otherwise the connection stays
    // open for the next request.
    if (HasBody(connection)) return Queue(&server, connection, std::move(response));
    state->answer = std::move(response);
    return MHD_YES;
  }
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    HttpServerOptions options, Handler handler) {
  std::shared_ptr<const HttpTlsCredentials> tls;
  if (options.tls.has_value()) {
    ASSIGN_OR_RETURN(tls, HttpTlsCredentials::FromPem(*options.tls));
  }
  std::unique_ptr<HttpServer> server(new HttpServer(
      std::move(handler), options.timeout_seconds, std::move(tls),
      options.tls.has_value() ? options.tls->client_ca : ""));
  const bool https = options.tls.has_value();
  // MHD_OPTION_LISTENING_ADDRESS_REUSE stays unset: libmicrohttpd then sets
  // SO_REUSEADDR (a restart binds despite connections in TIME_WAIT) and
  // never SO_REUSEPORT (one server per port).
  for (const std::string& address : options.listen) {
    absl::StatusOr<SocketAddress> parsed = ParseAddress(address);
    if (!parsed.ok()) return parsed.status();
    // poll(), not the epoll that MHD_USE_AUTO picks on Linux: libmicrohttpd
    // watches epoll edge-triggered and takes a short read to mean the socket
    // is drained, so a client that closes right after its last bytes (an
    // upload cut off mid-body) goes unnoticed until the idle timeout, and
    // its staging write with it. poll() reports the pending end of stream.
    // Suspend and resume: event bodies wait for events without a thread.
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                     MHD_ALLOW_SUSPEND_RESUME;
    if (parsed->ipv6) flags |= MHD_USE_IPv6;
    std::vector<MHD_OptionItem> settings = {
        {MHD_OPTION_SOCK_ADDR, 0, &parsed->storage},
        {MHD_OPTION_THREAD_POOL_SIZE, options.threads, nullptr},
        {MHD_OPTION_CONNECTION_LIMIT, options.connections, nullptr},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, options.connections_per_ip, nullptr},
        {MHD_OPTION_CONNECTION_TIMEOUT, options.timeout_seconds, nullptr},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT,
         static_cast<intptr_t>(options.connection_memory_bytes), nullptr},
        {MHD_OPTION_NOTIFY_COMPLETED,
         reinterpret_cast<intptr_t>(&HttpDispatch::RequestCompleted), server.get()},
        {MHD_OPTION_NOTIFY_CONNECTION,
         reinterpret_cast<intptr_t>(&HttpDispatch::ConnectionEvent), server.get()},
    };
    if (https) {
      flags |= MHD_USE_TLS;
      settings.push_back(
          {MHD_OPTION_HTTPS_CERT_CALLBACK, 0,
           reinterpret_cast<void*>(&HttpDispatch::PresentCertificate)});
      // libmicrohttpd asks for client certificates only with a trust list;
      // they are verified against the connection's credentials instead.
      if (server->verify_clients_) {
        settings.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0,
                            const_cast<char*>(server->start_client_ca_.c_str())});
      }
    }
    settings.push_back({MHD_OPTION_END, 0, nullptr});
    MHD_Daemon* daemon = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &HttpDispatch::Handle, server.get(),
        MHD_OPTION_ARRAY, settings.data(), MHD_OPTION_END);
    if (daemon == nullptr) {
      return absl::UnavailableError(absl::StrCat(
          "cannot listen for HTTP", https ? "S" : "", " on ", address,
          ": another process may be using it, or it is no address of this "
          "host"));
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

HttpServer::HttpServer(Handler handler, unsigned timeout_seconds,
                       std::shared_ptr<const HttpTlsCredentials> tls,
                       std::string client_ca)
    : handler_(std::move(handler)),
      verify_clients_(tls != nullptr && tls->verifies_clients()),
      header_deadlines_(std::make_unique<HeaderDeadlines>(
          std::chrono::seconds(timeout_seconds))),
      tls_(std::move(tls)),
      start_client_ca_(std::move(client_ca)) {}

absl::Status HttpServer::ReplaceTls(const HttpTlsOptions& tls) {
  if (this->tls() == nullptr) {
    return absl::FailedPreconditionError(
        "the HTTP listeners speak plain HTTP: TLS cannot be turned on while "
        "the server runs");
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const HttpTlsCredentials> fresh,
                   HttpTlsCredentials::FromPem(tls));
  if (fresh->verifies_clients() != verify_clients_) {
    return absl::InvalidArgumentError(
        "client certificates can be neither required nor dropped while the "
        "server runs");
  }
  absl::MutexLock lock(&tls_mu_);
  tls_ = std::move(fresh);
  return absl::OkStatus();
}

std::shared_ptr<const HttpTlsCredentials> HttpServer::tls() const {
  absl::MutexLock lock(&tls_mu_);
  return tls_;
}

HttpServer::~HttpServer() {
  {
    absl::MutexLock lock(&streams_mu_);
    stopping_ = true;
    for (HttpEventStream* stream : streams_) stream->Wake(/*end=*/true);
  }
  for (MHD_Daemon* daemon : daemons_) MHD_stop_daemon(daemon);
}

}  // namespace matcache
