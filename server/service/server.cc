#include "server/service/server.h"

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/storage/fd_handoff.h"
#include "server/core/base/logging.h"
#include "server/core/storage/source_file.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"
#include "server/access/access_token.h"

namespace matcache {
namespace {

HttpTlsOptions HttpTlsFrom(const TlsOptions& tls) {
  return {tls.certificate_chain, tls.private_key, tls.client_ca};
}

absl::StatusOr<std::string> CanonicalDirectory(const std::string& dir,
                                               absl::string_view flag) {
  std::error_code error;
  const std::filesystem::path canonical = std::filesystem::canonical(dir, error);
  if (error) return PosixError(error.value(), flag, dir);
  if (!std::filesystem::is_directory(canonical)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", dir, " is not a directory"));
  }
  return canonical.string();
}

// With TcpAuth::kToken and nothing else guarding TCP, makes TCP calls need
// the access token beside the first unix socket; returns its file, or ""
// if TCP needs no such token.
absl::StatusOr<std::string> RequireAccessToken(ServerOptions* options) {
  // The HTTP gateway's listeners are TCP too.
  const bool any_tcp =
      !options->http.listen.empty() ||
      std::any_of(options->listen.begin(), options->listen.end(),
                  [](const ListenAddress& address) { return !address.is_unix; });
  const bool mutual_tls = options->tls.has_value() && !options->tls->client_ca.empty();
  if (!any_tcp || options->tcp_auth == TcpAuth::kNone ||
      options->access.has_tokens() || mutual_tls) {
    return std::string();
  }
  const auto unix_socket =
      std::find_if(options->listen.begin(), options->listen.end(),
                   [](const ListenAddress& address) { return address.is_unix; });
  if (unix_socket == options->listen.end()) {
    return absl::InvalidArgumentError(
        "TCP listeners need a token and there is no unix socket beside which "
        "the server could keep one: add a unix: address, give "
        "--write_token_file (and --read_token_file), use mutual TLS, or "
        "--tcp_auth=none");
  }
  const std::string path = absl::StrCat(
      std::filesystem::path(unix_socket->unix_path).parent_path().string(),
      "/access.token");
  ASSIGN_OR_RETURN(std::string token,
                   LoadOrCreateAccessToken(path, options->group));
  options->access = AccessPolicy::TcpOnly(std::move(token), path);
  return path;
}

int ToMilliseconds(absl::Duration duration) {
  return static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(duration),
                                            std::numeric_limits<int>::max()));
}

// Persists, on the worker pool, every matrix put without a source.
class PersistPuts : public CatalogueListener {
 public:
  PersistPuts(Store* store, WorkerPool* pool) : store_(store), pool_(pool) {}

  void OnChange(const CatalogueChange& change) override {
    if (change.reason == ChangeReason::kPut) Schedule(store_, pool_, change.segment);
  }

  static void Schedule(Store* store, WorkerPool* pool,
                       std::shared_ptr<const Segment> segment) {
    const bool scheduled = pool->TrySchedule([store, segment]() {
      absl::Status persisted = store->Persist(segment);
      if (!persisted.ok()) LogWarning("persist: %s", persisted.message());
    });
    if (!scheduled) {
      LogWarning("persist: server busy; %s is not persisted until its next put",
                 segment->header().name);
    }
  }

 private:
  Store* const store_;
  WorkerPool* const pool_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MatcacheServer>> MatcacheServer::Start(
    ServerOptions options) {
  for (const ListenAddress& address : options.listen) {
    if (address.is_unix) {
      RETURN_IF_ERROR(PrepareUnixSocketPath(address.unix_path, options.group));
      RETURN_IF_ERROR(
          PrepareUnixSocketPath(FdSocketPath(address.unix_path), options.group));
      if (options.service.fd_socket.empty()) {
        options.service.fd_socket = FdSocketPath(address.unix_path);
      }
    }
  }
  ASSIGN_OR_RETURN(std::string access_token_file, RequireAccessToken(&options));
  if (options.group.has_value()) {
    options.store.group = options.group;
    options.store.published_mode = 0440;
  }
  if (!options.service.data_dir.empty()) {
    ASSIGN_OR_RETURN(options.service.data_dir,
                     CanonicalDirectory(options.service.data_dir, "data_dir"));
  }
  if (!options.preload_dir.empty()) {
    ASSIGN_OR_RETURN(options.preload_dir,
                     CanonicalDirectory(options.preload_dir, "preload_dir"));
  }
  if (!options.store.persist_dir.empty()) {
    ASSIGN_OR_RETURN(options.store.persist_dir,
                     CanonicalDirectory(options.store.persist_dir, "persist_dir"));
  }
  for (const std::string* dir : {&options.service.data_dir, &options.preload_dir}) {
    if (!dir->empty()) options.store.source_dirs.push_back(*dir);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<Store> store, Store::Open(options.store));
  std::unique_ptr<MatcacheServer> server(
      new MatcacheServer(std::move(options), std::move(store)));
  server->access_token_file_ = std::move(access_token_file);
  server->store_->AddListener(server->watches_.get());
  RETURN_IF_ERROR(server->Preload());
  server->StartPersisting();
  RETURN_IF_ERROR(server->StartGrpc());
  RETURN_IF_ERROR(server->StartHttp());
  if (server->gateway_ != nullptr) server->gateway_->SetReady(true);
  return server;
}

MatcacheServer::MatcacheServer(ServerOptions options, std::unique_ptr<Store> store)
    : options_(std::move(options)),
      access_(options_.access),
      tls_credentials_(options_.tls.has_value()
                           ? std::make_shared<ReloadableTlsCredentials>(*options_.tls)
                           : nullptr),
      watches_(std::make_unique<WatchHub>(store.get(),
                                          options_.watch_queue_events)),
      store_(std::move(store)),
      pool_(std::make_unique<WorkerPool>(options_.worker_threads,
                                         options_.max_queued_work)),
      watchdog_(options_.stream_idle_timeout),
      metrics_(store_.get(), watches_.get()),
      calls_(&metrics_),
      service_(std::make_unique<MatrixCacheService>(
          store_.get(), pool_.get(), &watchdog_, &access_, watches_.get(),
          options_.service)) {}

std::shared_ptr<grpc::ServerCredentials> MatcacheServer::CredentialsFor(
    const ListenAddress& address) const {
  if (address.is_unix || tls_credentials_ == nullptr) {
    return grpc::InsecureServerCredentials();
  }
  return tls_credentials_;
}

absl::Status MatcacheServer::StartGrpc() {
  FdHandoffOptions handoff;
  for (const ListenAddress& address : options_.listen) {
    if (address.is_unix) handoff.paths.push_back(FdSocketPath(address.unix_path));
  }
  if (!handoff.paths.empty()) {
    // Before the first Create can name them.
    handoff.group = options_.group;
    handoff.max_connections = options_.fd_handoff_max_connections;
    handoff.request_timeout = options_.fd_handoff_timeout;
    ASSIGN_OR_RETURN(fd_server_,
                     FdHandoffServer::Start(store_.get(), std::move(handoff)));
  }
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::vector<int> ports(options_.listen.size(), 0);
  for (size_t i = 0; i < options_.listen.size(); ++i) {
    builder.AddListeningPort(options_.listen[i].uri,
                             CredentialsFor(options_.listen[i]), &ports[i]);
  }
  // One server per port: a second one must fail to start, not share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS,
                             options_.max_concurrent_streams_per_connection);
  grpc::ResourceQuota quota("matcached");
  quota.Resize(static_cast<size_t>(options_.grpc_memory_bytes));
  builder.SetResourceQuota(quota);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             ToMilliseconds(options_.keepalive_time));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             ToMilliseconds(options_.keepalive_timeout));
  // Clients pinging more often than allowed get a GOAWAY after two strikes.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                             ToMilliseconds(options_.min_client_ping_interval));
  builder.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2);
  builder.RegisterService(service_.get());
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(calls_.NewInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  server_ = builder.BuildAndStart();
  for (size_t i = 0; i < options_.listen.size(); ++i) {
    if (ports[i] != 0) continue;
    if (server_ != nullptr) server_->Shutdown();
    server_ = nullptr;
    fd_server_ = nullptr;
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", options_.listen[i].uri,
        ": another process may be using it, or it is no address of this host"));
  }
  if (server_ == nullptr) {
    fd_server_ = nullptr;
    return absl::UnavailableError("gRPC could not start the server");
  }
  for (size_t i = 0; i < options_.listen.size(); ++i) {
    const ListenAddress& address = options_.listen[i];
    addresses_.push_back(
        address.is_unix
            ? address.uri
            : absl::StrCat(address.uri.substr(0, address.uri.rfind(':')), ":",
                           ports[i]));
  }
  for (const ListenAddress& address : options_.listen) {
    if (!address.is_unix) continue;
    absl::Status secured = SecureUnixSocket(address.unix_path, options_.group);
    if (!secured.ok()) {
      server_->Shutdown();
      server_ = nullptr;
      fd_server_ = nullptr;
      return secured;
    }
  }
  server_->GetHealthCheckService()->SetServingStatus(true);
  sweeper_ = std::thread([this] { Sweep(); });
  return absl::OkStatus();
}

absl::Status MatcacheServer::Preload() {
  if (options_.preload_dir.empty()) return absl::OkStatus();
  int registered = 0;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(options_.preload_dir, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() != ".npy") continue;
    absl::StatusOr<std::string> resolved =
        ResolveSourcePath(options_.preload_dir, path.filename().string());
    absl::StatusOr<MatrixInfo> info =
        resolved.ok() ? store_->RegisterSource(path.stem().string(), *resolved)
                      : absl::StatusOr<MatrixInfo>(resolved.status());
    if (info.ok()) {
      ++registered;
    } else {
      LogWarning("preload: skipping %s: %s", path.string(), info.status().message());
    }
  }
  if (error) return PosixError(error.value(), "preload_dir", options_.preload_dir);
  LogInfo("preload: %d matrices from %s, read on first access", registered,
          options_.preload_dir);
  return absl::OkStatus();
}

void MatcacheServer::StartPersisting() {
  if (options_.store.persist_dir.empty()) return;
  persister_ = std::make_unique<PersistPuts>(store_.get(), pool_.get());
  store_->AddListener(persister_.get());
  // After a reboot the persisted files come back as sources; matrices that
  // survived in the tmpfs but were never persisted are written now.
  for (std::shared_ptr<const Segment>& segment : store_->AdoptPersisted()) {
    PersistPuts::Schedule(store_.get(), pool_.get(), std::move(segment));
  }
}

void MatcacheServer::Sweep() {
  const absl::Duration period = std::clamp(
      std::min(options_.service.lease, options_.stream_idle_timeout) / 4,
      absl::Milliseconds(100), absl::Seconds(5));
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), period);
    if (stopping_) break;
    mu_.Unlock();
    store_->AbortExpired(absl::Now());
    store_->DeleteExpired(absl::Now());
    watchdog_.CancelIdle(absl::Now());
    mu_.Lock();
  }
}

absl::Status MatcacheServer::StartHttp() {
  if (options_.http.listen.empty()) return absl::OkStatus();
  GatewayOptions gateway;
  gateway.server = options_.http;
  if (options_.tls.has_value()) gateway.server.tls = HttpTlsFrom(*options_.tls);
  gateway.json_max_elements = options_.http_json_max_elements;
  gateway.answer_memory_bytes = options_.http_answer_memory_bytes;
  gateway.preview_threads = options_.service.preview_threads;
  gateway.sse_heartbeat = options_.sse_heartbeat;
  ASSIGN_OR_RETURN(gateway_, Gateway::Start(std::move(gateway), store_.get(),
                                             watches_.get(), &access_, &metrics_));
  return absl::OkStatus();
}

std::vector<std::string> MatcacheServer::http_addresses() const {
  return gateway_ != nullptr ? gateway_->addresses() : std::vector<std::string>();
}

void MatcacheServer::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (gateway_ != nullptr) gateway_->SetReady(false);
  // Watch streams would otherwise keep the grace period waiting.
  watches_->Close();
  if (sweeper_.joinable()) sweeper_.join();
  if (server_ != nullptr) {
    server_->GetHealthCheckService()->SetServingStatus(false);
    const absl::Time deadline = absl::Now() + options_.shutdown_grace;
    std::thread shutting_down(
        [this, deadline] { server_->Shutdown(absl::ToChronoTime(deadline)); });
    // Shutdown refuses new calls at once but, besides the running calls,
    // waits for every connection to close until its deadline: once no call
    // is left, the idle connections are closed.
    if (calls_.WaitUntilIdle(deadline)) {
      grpc_server_cancel_all_calls(server_->c_server());
    }
    shutting_down.join();
    server_->Wait();
  }
  gateway_.reset();
  // After the calls: a put still running may fetch its staging file.
  fd_server_.reset();
  pool_.reset();  // runs whatever is still queued, then joins
  // Staging files go with the store; published segments stay.
  store_.reset();
  LogInfo("matcached stopped");
}

absl::Status MatcacheServer::Reload(AccessPolicy tokens,
                                    std::optional<TlsOptions> tls) {
  const bool token_files = options_.access.has_tokens();
  if (token_files && !tokens.has_tokens()) {
    return absl::InvalidArgumentError("the token files hold no tokens");
  }
  if (tls.has_value() != (tls_credentials_ != nullptr)) {
    return absl::InvalidArgumentError(
        "TLS can be neither turned on nor off while the server runs");
  }
  if (tls.has_value() &&
      tls->client_ca.empty() != options_.tls->client_ca.empty()) {
    return absl::InvalidArgumentError(
        "client certificates can be neither required nor dropped while the "
        "server runs");
  }
  // The HTTPS listeners check the certificates first: nothing changes if
  // they are unusable.
  if (tls.has_value() && gateway_ != nullptr) {
    RETURN_IF_ERROR(gateway_->ReplaceTls(HttpTlsFrom(*tls)));
  }
  if (token_files) access_.Replace(std::move(tokens));
  if (tls.has_value()) tls_credentials_->Replace(*std::move(tls));
  return absl::OkStatus();
}

MatcacheServer::~MatcacheServer() { Shutdown(); }

}  // namespace matcache
