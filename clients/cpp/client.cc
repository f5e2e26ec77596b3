#include "matcache/client.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include <grpcpp/grpcpp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/cpp/connection.h"
#include "clients/cpp/raw_stream.h"
#include "matcache/v1/matcache.grpc.pb.h"
#include "protos/convert/proto_convert.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/header.h"
#include "server/core/format/shape.h"
#include "server/core/storage/fd_handoff.h"

namespace matcache {
namespace {

constexpr int64_t kPutChunkBytes = int64_t{2} << 20;

bool OnlyOwnerWrites(const struct stat& status) {
  return (status.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

// Whether no user but root and this process's own could have placed a file
// in `dir`: a directory, not a symbolic link, that only its owner may write
// to, owned by root or this process's user, or by anyone when only root may
// write to its parent (as /run).
bool IsTrustedServerDir(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();  // lstat it
  struct stat own, parent;
  const std::string parent_dir = dir.substr(0, dir.find_last_of('/') + 1);
  if (lstat(dir.c_str(), &own) != 0 || !S_ISDIR(own.st_mode) ||
      !OnlyOwnerWrites(own) ||
      stat(parent_dir.empty() ? "." : parent_dir.c_str(), &parent) != 0) {
    return false;
  }
  return own.st_uid == 0 || own.st_uid == geteuid() ||
         (parent.st_uid == 0 && OnlyOwnerWrites(parent));
}

std::string ResolveAddress(const std::string& address) {
  if (!address.empty()) return address;
  const char* from_env = std::getenv("MATCACHE_ADDRESS");
  return from_env != nullptr && *from_env != '\0' ? from_env : DefaultAddress();
}

// Gets the staging file of `created` from the server's fd socket (the
// file is the server's alone: it cannot be opened by path) and checks that
// it is the segment the server created. UNAVAILABLE if the fd socket cannot
// be reached from here.
absl::StatusOr<int> OpenStaging(const v1::CreateResponse& created,
                                absl::Duration timeout) {
  ASSIGN_OR_RETURN(const int fd, RequestStagingFd(created.fd_socket(),
                                                  created.lease(), timeout));
  char page[kHeaderSize];
  absl::StatusOr<SegmentHeader> header =
      pread(fd, page, sizeof(page), 0) == static_cast<ssize_t>(sizeof(page))
          ? DecodeHeader(absl::MakeConstSpan(page, sizeof(page)))
          : absl::DataLossError("short header");
  if (!header.ok() ||
      std::string(reinterpret_cast<const char*>(header->id.bytes.data()),
                  header->id.bytes.size()) != created.id()) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "the descriptor from ", created.fd_socket(),
        " is not the staging segment the server made"));
  }
  return fd;
}

// Copies `nbytes` from `data` into the data area of the open staging file.
// write() fills the file's (preallocated) pages without mapping them: no
// page faults, no page-table set-up, no zeroing, and nothing another
// process does to the file can fault in this one.
absl::Status WriteStaging(int fd, const v1::CreateResponse& created,
                          const void* data, int64_t nbytes) {
  const char* bytes = static_cast<const char*>(data);
  int64_t written = 0;
  while (written < nbytes) {
    const ssize_t n = pwrite(fd, bytes + written,
                             static_cast<size_t>(nbytes - written),
                             created.data_offset() + written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return PosixError(errno, "write", created.path());
    }
    written += n;
  }
  return absl::OkStatus();
}

// The token in the file at `path`, or nullopt if this process may not read
// it (the server then says which token it wants).
std::optional<std::string> ReadAccessToken(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  char buffer[256];
  ssize_t n = -1;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
    n = read(fd, buffer, sizeof(buffer));
  }
  close(fd);
  if (n <= 0) return std::nullopt;
  const absl::string_view token =
      absl::StripAsciiWhitespace(absl::string_view(buffer, static_cast<size_t>(n)));
  if (token.empty()) return std::nullopt;
  return std::string(token);
}

void AddIndices(const std::vector<Index>& indices, v1::ReadRequest* request) {
  for (const Index& index : indices) {
    v1::Index* proto = request->add_index();
    if (!index.is_slice) {
      proto->set_at(index.at);
      continue;
    }
    v1::Slice* slice = proto->mutable_slice();
    if (index.start.has_value()) slice->set_start(*index.start);
    if (index.stop.has_value()) slice->set_stop(*index.stop);
    if (index.step.has_value()) slice->set_step(*index.step);
  }
}

// Asks for transparent huge pages over a large fresh buffer, as numpy does:
// 512 times fewer page faults while the stream fills it.
void AdviseHugePages(char* buffer, size_t size) {
  constexpr uintptr_t kHugePage = uintptr_t{2} << 20;
  const uintptr_t begin =
      (reinterpret_cast<uintptr_t>(buffer) + kHugePage - 1) & ~(kHugePage - 1);
  const uintptr_t end = (reinterpret_cast<uintptr_t>(buffer) + size) & ~(kHugePage - 1);
  // Only advice: without huge pages the buffer works the same.
  if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
}

absl::Status CheckHeader(const v1::ReadHeader& header, DType dtype) {
  if (header.dtype() != matcache::ToProto(dtype)) {
    absl::StatusOr<DType> got = FromProto(header.dtype());
    return absl::InvalidArgumentError(absl::StrCat(
        "the result holds ",
        got.ok() ? GetDTypeInfo(*got).name : "an unknown dtype",
        ", not the requested ", GetDTypeInfo(dtype).name));
  }
  return absl::OkStatus();
}

}  // namespace

Client::Connection::Connection(std::string address, ClientOptions options)
    : address(std::move(address)), options(std::move(options)) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(16 << 20);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (this->options.tls.has_value()) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = this->options.tls->root_certs;
    ssl.pem_cert_chain = this->options.tls->cert_chain;
    ssl.pem_private_key = this->options.tls->private_key;
    credentials = grpc::SslCredentials(ssl);
  }
  channel = grpc::CreateCustomChannel(this->address, credentials, arguments);
  stub = v1::MatrixCache::NewStub(channel);
}

absl::Status Client::Connection::Stream(
    absl::string_view method, const google::protobuf::MessageLite& request,
    DType dtype, Allocate allocate) const {
  return FromGrpc(RunRawStream(
      channel, method, request,
      [this](grpc::ClientContext* context) { PrepareContext(context); },
      [&](const v1::ReadHeader& header) -> absl::StatusOr<char*> {
        RETURN_IF_ERROR(CheckHeader(header, dtype));
        const std::vector<int64_t> shape(header.shape().begin(),
                                         header.shape().end());
        ASSIGN_OR_RETURN(char* out, allocate(shape, header.nbytes()));
        AdviseHugePages(out, static_cast<size_t>(header.nbytes()));
        return out;
      }));
}

std::string ServerFile(absl::string_view name,
                       absl::Span<const char* const> dirs) {
  std::string fallback;  // the first path that holds nothing
  for (const char* dir : dirs) {
    std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) {
      if (fallback.empty()) fallback = std::move(path);
    } else if (IsTrustedServerDir(dir) && access(path.c_str(), F_OK) == 0) {
      return path;
    }
  }
  return fallback;
}

std::string DefaultAddress() {
  return absl::StrCat("unix:", ServerFile("matcached.sock"));
}

std::unique_ptr<Client> Client::Connect(ClientOptions options) {
  std::string address = ResolveAddress(options.address);
  if (!options.token.has_value()) {
    const char* from_env = std::getenv("MATCACHE_TOKEN");
    if (from_env != nullptr) options.token = from_env;
  }
  if (!options.token.has_value() && !absl::StartsWith(address, "unix:")) {
    const char* file_from_env = std::getenv("MATCACHE_TOKEN_FILE");
    options.token = ReadAccessToken(options.token_file.value_or(
        file_from_env != nullptr ? file_from_env : ServerFile("access.token")));
  }
  return std::unique_ptr<Client>(new Client(
      std::make_unique<Connection>(std::move(address), std::move(options))));
}

Client::Client(std::unique_ptr<Connection> connection)
    : connection_(std::move(connection)) {}

Client::~Client() = default;

const std::string& Client::address() const { return connection_->address; }

absl::Status Client::ReadInto(absl::string_view name,
                              const std::vector<Index>& indices, DType dtype,
                              Allocate allocate) {
  v1::ReadRequest request;
  request.set_name(std::string(name));
  AddIndices(indices, &request);
  request.set_dtype(matcache::ToProto(dtype));
  request.set_chunk_bytes(kStreamChunkBytes);
  return connection_->Stream("/matcache.v1.MatrixCache/Read", request, dtype,
                             allocate);
}

absl::Status Client::PreviewInto(absl::string_view name,
                                 const std::vector<int64_t>& shape,
                                 PreviewMethod method, DType dtype,
                                 Allocate allocate) {
  v1::PreviewRequest request;
  request.set_name(std::string(name));
  request.mutable_shape()->Assign(shape.begin(), shape.end());
  request.set_method(matcache::ToProto(method));
  request.set_chunk_bytes(kStreamChunkBytes);
  return connection_->Stream("/matcache.v1.MatrixCache/Preview", request,
                             dtype, allocate);
}

absl::StatusOr<MatrixInfo> Client::Info(absl::string_view name) {
  grpc::ClientContext context;
  connection_->PrepareContext(&context);
  v1::InfoRequest request;
  request.set_name(std::string(name));
  v1::MatrixInfo response;
  RETURN_IF_ERROR(connection_->FromGrpc(connection_->stub->Info(&context, request, &response)));
  return FromProto(response);
}

absl::StatusOr<MappedMatrix> Client::Get(absl::string_view name) {
  ASSIGN_OR_RETURN(MatrixInfo info, Info(name));
  absl::StatusOr<MappedMatrix> mapped = MappedMatrix::Open(info);
  if (!mapped.ok()) {
    // A replace between Info and open unlinks the file we were told of (or
    // puts another in its place): ask once more before giving up.
    ASSIGN_OR_RETURN(MatrixInfo fresh, Info(name));
    if (fresh.id != info.id) mapped = MappedMatrix::Open(fresh);
  }
  if (absl::IsNotFound(mapped.status()) ||
      absl::IsPermissionDenied(mapped.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        "matrix \"", name, "\" cannot be mapped from this host: ",
        mapped.status().message()));
  }
  return mapped;
}

absl::StatusOr<std::vector<MatrixInfo>> Client::List(absl::string_view prefix) {
  std::vector<MatrixInfo> result;
  v1::ListRequest request;
  request.set_prefix(std::string(prefix));
  do {
    grpc::ClientContext context;
    connection_->PrepareContext(&context);
    v1::ListResponse response;
    RETURN_IF_ERROR(connection_->FromGrpc(connection_->stub->List(&context, request, &response)));
    for (const v1::MatrixInfo& proto : response.matrices()) {
      ASSIGN_OR_RETURN(MatrixInfo info, FromProto(proto));
      result.push_back(std::move(info));
    }
    request.set_page_token(response.next_page_token());
  } while (!request.page_token().empty());
  return result;
}

absl::Status Client::Delete(absl::string_view name) {
  grpc::ClientContext context;
  connection_->PrepareContext(&context);
  v1::DeleteRequest request;
  request.set_name(std::string(name));
  v1::DeleteResponse response;
  return connection_->FromGrpc(connection_->stub->Delete(&context, request, &response));
}

absl::StatusOr<MatrixInfo> Client::Put(absl::string_view name,
                                       const void* data,
                                       absl::Span<const int64_t> shape,
                                       DType dtype) {
  ASSIGN_OR_RETURN(int64_t nbytes,
                   ByteSize(shape, GetDTypeInfo(dtype).item_size));
  if (connection_->options.local == LocalMode::kNever) {
    return connection_->PutStreamed(name, data, shape, dtype, nbytes);
  }
  v1::CreateResponse created;
  {
    grpc::ClientContext context;
    connection_->PrepareContext(&context);
    v1::CreateRequest request;
    request.set_name(std::string(name));
    request.mutable_shape()->Assign(shape.begin(), shape.end());
    request.set_dtype(matcache::ToProto(dtype));
    RETURN_IF_ERROR(connection_->FromGrpc(connection_->stub->Create(&context, request, &created)));
  }
  absl::StatusOr<int> fd = OpenStaging(created, connection_->options.timeout);
  if (!fd.ok()) {
    connection_->Abort(created.lease());
    // The server's fd socket is not reachable from here: stream instead.
    if (connection_->options.local == LocalMode::kAuto && absl::IsUnavailable(fd.status())) {
      return connection_->PutStreamed(name, data, shape, dtype, nbytes);
    }
    return fd.status();
  }
  absl::Status written = WriteStaging(*fd, created, data, nbytes);
  // Before Commit, which refuses while the file is still open for writing.
  close(*fd);
  if (!written.ok()) {
    connection_->Abort(created.lease());
    return written;
  }
  grpc::ClientContext context;
  connection_->PrepareContext(&context);
  v1::CommitRequest request;
  request.set_lease(created.lease());
  v1::MatrixInfo response;
  RETURN_IF_ERROR(connection_->FromGrpc(connection_->stub->Commit(&context, request, &response)));
  return FromProto(response);
}

void Client::Connection::Abort(const std::string& lease) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::AbortRequest request;
  request.set_lease(lease);
  v1::AbortResponse response;
  // Best effort: an unaborted lease expires on the server anyway.
  (void)stub->Abort(&context, request, &response);
}

absl::StatusOr<MatrixInfo> Client::Connection::PutStreamed(absl::string_view name,
                                               const void* data,
                                               absl::Span<const int64_t> shape,
                                               DType dtype, int64_t nbytes) {
  grpc::ClientContext context;
  PrepareContext(&context);
  v1::MatrixInfo response;
  std::unique_ptr<grpc::ClientWriter<v1::PutRequest>> writer =
      stub->Put(&context, &response);
  v1::PutRequest message;
  v1::PutHeader* header = message.mutable_header();
  header->set_name(std::string(name));
  header->mutable_shape()->Assign(shape.begin(), shape.end());
  header->set_dtype(matcache::ToProto(dtype));
  bool open = writer->Write(message);
  const char* bytes = static_cast<const char*>(data);
  for (int64_t sent = 0; open && sent < nbytes; sent += kPutChunkBytes) {
    message.Clear();
    message.set_data(bytes + sent,
                     static_cast<size_t>(std::min(kPutChunkBytes, nbytes - sent)));
    open = writer->Write(message);
  }
  writer->WritesDone();
  RETURN_IF_ERROR(FromGrpc(writer->Finish()));
  return FromProto(response);
}

}  // namespace matcache
