#include "server/service/matrix_cache_service.h"

#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "protos/convert/proto_convert.h"
#include "server/core/base/status_macros.h"
#include "server/core/base/version.h"
#include "server/core/format/name.h"
#include "server/core/storage/source_file.h"
#include "server/service/grpc_status.h"
#include "server/service/preview_reactor.h"
#include "server/service/put_reactor.h"
#include "server/service/read_reactor.h"
#include "server/service/refused_call.h"
#include "server/service/watch_reactor.h"

namespace matcache {
MatrixCacheService::MatrixCacheService(Store* store, WorkerPool* pool,
                                       StreamWatchdog* watchdog,
                                       const SharedAccessPolicy* access,
                                       WatchHub* hub,
                                       ServiceOptions options)
    : store_(store),
      pool_(pool),
      watchdog_(watchdog),
      access_(access),
      hub_(hub),
      options_(options) {}

grpc::ServerUnaryReactor* MatrixCacheService::Answer(
    grpc::CallbackServerContext* context, const char* rpc,
    const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(rpc, status));
  return reactor;
}

absl::Status MatrixCacheService::Authorize(
    const grpc::CallbackServerContext& context, Access access,
    const char* rpc) const {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find("authorization");
  std::optional<absl::string_view> authorization;
  if (found != metadata.end()) {
    authorization = absl::string_view(found->second.data(), found->second.size());
  }
  // gRPC names unix socket peers "unix:..." and TCP ones "ipv4:..." or
  // "ipv6:...".
  const Transport transport = absl::StartsWith(context.peer(), "unix:")
                                  ? Transport::kUnixSocket
                                  : Transport::kTcp;
  return access_->Check(authorization, access, transport, rpc);
}

grpc::ServerUnaryReactor* MatrixCacheService::Refused(
    grpc::CallbackServerContext* context, Access access, const char* rpc) const {
  absl::Status allowed = Authorize(*context, access, rpc);
  return allowed.ok() ? nullptr : Answer(context, rpc, allowed);
}

grpc::ServerUnaryReactor* MatrixCacheService::Offload(
    grpc::CallbackServerContext* context, const char* rpc,
    absl::AnyInvocable<absl::Status() &&> work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool scheduled =
      pool_->TrySchedule([reactor, rpc, work = std::move(work)]() mutable {
        reactor->Finish(ToGrpcStatus(rpc, std::move(work)()));
      });
  if (!scheduled) reactor->Finish(ToGrpcStatus(rpc, BusyError()));
  return reactor;
}

grpc::ServerUnaryReactor* MatrixCacheService::Create(
    grpc::CallbackServerContext* context, const v1::CreateRequest* request,
    v1::CreateResponse* response) {
  if (auto* refused = Refused(context, Access::kWrite, "Create")) return refused;
  return Offload(context, "Create", [this, context, request,
                                     response]() -> absl::Status {
    const absl::Time now = absl::Now();
    // The TTL counts from the Create; the lease is far shorter than any
    // useful TTL.
    ASSIGN_OR_RETURN(WriteRequest asked, WriteRequestFromProto(*request, now));
    ASSIGN_OR_RETURN(
        StagingWrite write,
        store_->BeginWrite(asked.name, asked.shape, asked.dtype,
                           Segment::Prefault::kNo, now + options_.lease,
                           asked.retention, asked.original_dtype));
    if (context->IsCancelled()) {
      // Nobody will receive the lease: do not hold the space until it expires.
      absl::Status aborted = store_->Abort(write.write_id);
      if (!aborted.ok()) return aborted;
      return absl::CancelledError("Create was cancelled by the client");
    }
    const SegmentHeader& header = write.segment->header();
    response->set_lease(write.write_id);
    response->set_path(write.segment->path());
    // Only a caller on this host can use it: one that came through a unix
    // socket. Over TCP the path could name another server's fd socket on
    // the caller's host.
    if (absl::StartsWith(context->peer(), "unix:")) {
      response->set_fd_socket(options_.fd_socket);
    }
    response->set_id(header.id.bytes.data(), header.id.bytes.size());
    response->set_data_offset(static_cast<int64_t>(header.data_offset));
    response->set_nbytes(static_cast<int64_t>(header.data_length));
    ToProto(now + options_.lease, response->mutable_lease_expires());
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* MatrixCacheService::Commit(
    grpc::CallbackServerContext* context, const v1::CommitRequest* request,
    v1::MatrixInfo* response) {
  if (auto* refused = Refused(context, Access::kWrite, "Commit")) return refused;
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const bool scheduled = pool_->TrySchedule([this, reactor, request, response] {
    std::shared_ptr<const Segment> replaced;
    absl::StatusOr<MatrixInfo> info = store_->Commit(request->lease(), &replaced);
    if (info.ok()) ToProto(*info, response);
    reactor->Finish(ToGrpcStatus("Commit", info.status()));
    // Freeing the replaced generation's pages is not the caller's wait.
    replaced.reset();
  });
  if (!scheduled) reactor->Finish(ToGrpcStatus("Commit", BusyError()));
  return reactor;
}

grpc::ServerUnaryReactor* MatrixCacheService::Abort(
    grpc::CallbackServerContext* context, const v1::AbortRequest* request,
    v1::AbortResponse* /*response*/) {
  if (auto* refused = Refused(context, Access::kWrite, "Abort")) return refused;
  return Offload(context, "Abort", [this, request]() {
    return store_->Abort(request->lease());
  });
}

grpc::ServerReadReactor<v1::PutRequest>* MatrixCacheService::Put(
    grpc::CallbackServerContext* context, v1::MatrixInfo* response) {
  if (absl::Status allowed = Authorize(*context, Access::kWrite, "Put");
      !allowed.ok()) {
    return new RefusedReadCall<v1::PutRequest>(ToGrpcStatus("Put", allowed));
  }
  return new PutReactor(store_, pool_, options_.lease, watchdog_, context,
                        response);
}

grpc::ServerUnaryReactor* MatrixCacheService::Info(
    grpc::CallbackServerContext* context, const v1::InfoRequest* request,
    v1::MatrixInfo* response) {
  if (auto* refused = Refused(context, Access::kRead, "Info")) return refused;
  if (store_->NeedsLoad(request->name())) {
    // Reading the source takes time: not on this thread.
    return Offload(context, "Info", [this, request, response]() -> absl::Status {
      RETURN_IF_ERROR(store_->EnsureLoaded(request->name()));
      ASSIGN_OR_RETURN(MatrixInfo info, store_->Info(request->name()));
      ToProto(info, response);
      return absl::OkStatus();
    });
  }
  absl::StatusOr<MatrixInfo> info = store_->Info(request->name());
  if (info.ok()) ToProto(*info, response);
  return Answer(context, "Info", info.status());
}

grpc::ServerUnaryReactor* MatrixCacheService::Load(
    grpc::CallbackServerContext* context, const v1::LoadRequest* request,
    v1::MatrixInfo* response) {
  if (auto* refused = Refused(context, Access::kWrite, "Load")) return refused;
  return Offload(context, "Load", [this, request, response]() -> absl::Status {
    if (options_.data_dir.empty()) {
      return absl::FailedPreconditionError(
          "this server has no --data_dir, so it loads no .npy sources");
    }
    ASSIGN_OR_RETURN(std::string path,
                     ResolveSourcePath(options_.data_dir, request->path()));
    // A matrix the name already holds gives way to the file at once.
    if (store_->Contains(request->name())) {
      RETURN_IF_ERROR(store_->LoadFrom(request->name(), path));
      ASSIGN_OR_RETURN(MatrixInfo info, store_->Info(request->name()));
      ToProto(info, response);
      return absl::OkStatus();
    }
    ASSIGN_OR_RETURN(MatrixInfo info, store_->RegisterSource(request->name(), path));
    if (request->eager()) {
      RETURN_IF_ERROR(store_->EnsureLoaded(request->name()));
      ASSIGN_OR_RETURN(info, store_->Info(request->name()));
    }
    ToProto(info, response);
    return absl::OkStatus();
  });
}

absl::Status MatrixCacheService::ListPage(const v1::ListRequest& request,
                                          v1::ListResponse* response) const {
  if (request.page_size() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size is negative (", request.page_size(), ")"));
  }
  if (!request.page_token().empty() &&
      !ValidateName(request.page_token()).ok()) {
    return absl::InvalidArgumentError(
        "page_token is not one returned by List");
  }
  const int page_size = request.page_size() == 0
                            ? options_.max_list_page
                            : std::min(request.page_size(), options_.max_list_page);
  // One more than a page tells whether another page follows.
  std::vector<MatrixInfo> matrices =
      store_->List(request.prefix(), request.page_token(), page_size + 1);
  if (matrices.size() > static_cast<size_t>(page_size)) {
    matrices.pop_back();
    response->set_next_page_token(matrices.back().name);
  }
  for (const MatrixInfo& info : matrices) ToProto(info, response->add_matrices());
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* MatrixCacheService::List(
    grpc::CallbackServerContext* context, const v1::ListRequest* request,
    v1::ListResponse* response) {
  if (auto* refused = Refused(context, Access::kRead, "List")) return refused;
  return Answer(context, "List", ListPage(*request, response));
}

grpc::ServerUnaryReactor* MatrixCacheService::Delete(
    grpc::CallbackServerContext* context, const v1::DeleteRequest* request,
    v1::DeleteResponse* /*response*/) {
  if (auto* refused = Refused(context, Access::kWrite, "Delete")) return refused;
  return Offload(context, "Delete", [this, request]() {
    return store_->Delete(request->name(), request->generation());
  });
}

grpc::ServerUnaryReactor* MatrixCacheService::SetPinned(
    grpc::CallbackServerContext* context, const char* rpc,
    const v1::PinRequest* request, v1::MatrixInfo* response, bool pinned) {
  if (auto* refused = Refused(context, Access::kWrite, rpc)) return refused;
  return Offload(context, rpc,
                 [this, request, response, pinned]() -> absl::Status {
                   ASSIGN_OR_RETURN(MatrixInfo info,
                                    store_->SetPinned(request->name(), pinned));
                   ToProto(info, response);
                   return absl::OkStatus();
                 });
}

grpc::ServerUnaryReactor* MatrixCacheService::Pin(
    grpc::CallbackServerContext* context, const v1::PinRequest* request,
    v1::MatrixInfo* response) {
  return SetPinned(context, "Pin", request, response, true);
}

grpc::ServerUnaryReactor* MatrixCacheService::Unpin(
    grpc::CallbackServerContext* context, const v1::PinRequest* request,
    v1::MatrixInfo* response) {
  return SetPinned(context, "Unpin", request, response, false);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* MatrixCacheService::Read(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  if (absl::Status allowed = Authorize(*context, Access::kRead, "Read");
      !allowed.ok()) {
    return new RefusedWriteCall<grpc::ByteBuffer>(ToGrpcStatus("Read", allowed));
  }
  return new ReadReactor(*store_, pool_, watchdog_, context, *request,
                         options_.read_chunk_bytes);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* MatrixCacheService::Preview(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  if (absl::Status allowed = Authorize(*context, Access::kRead, "Preview");
      !allowed.ok()) {
    return new RefusedWriteCall<grpc::ByteBuffer>(ToGrpcStatus("Preview", allowed));
  }
  return new PreviewReactor(*store_, pool_, watchdog_, context, *request,
                            options_.read_chunk_bytes,
                            options_.preview_threads);
}

grpc::ServerUnaryReactor* MatrixCacheService::Stats(
    grpc::CallbackServerContext* context, const v1::StatsRequest* /*request*/,
    v1::StatsResponse* response) {
  if (auto* refused = Refused(context, Access::kRead, "Stats")) return refused;
  const StoreStats stats = store_->Stats();
  ToProto(stats, store_->options().shm_dir, response);
  response->set_version(std::string(Version()));
  const WatchCounts watches = hub_->counts();
  response->set_watchers(watches.watchers);
  response->set_dropped_watchers(watches.dropped);
  return Answer(context, "Stats", absl::OkStatus());
}

grpc::ServerWriteReactor<v1::WatchEvent>* MatrixCacheService::Watch(
    grpc::CallbackServerContext* context, const v1::WatchRequest* request) {
  if (absl::Status allowed = Authorize(*context, Access::kRead, "Watch");
      !allowed.ok()) {
    return new RefusedWriteCall<v1::WatchEvent>(ToGrpcStatus("Watch", allowed));
  }
  return new WatchReactor(hub_, *request);
}

}  // namespace matcache
