// matcache::Client: the C++ client of matcached.
//
//   auto client = matcache::Client::Connect();          // $MATCACHE_ADDRESS
//   client->Put("prices", xt::xarray<double>{{1, 2}, {3, 4}});
//   absl::StatusOr<MappedMatrix> m = client->Get("prices");  // zero copies
//   auto view = m->View<double>();                            // xtensor view
//   std::unique_ptr<matcache::WatchStream> changes = client->Watch("pri");
//
// Every call returns the server's status (NOT_FOUND, INVALID_ARGUMENT,
// RESOURCE_EXHAUSTED, ...) or UNAVAILABLE naming the address when the server
// cannot be reached. Thread-safe: one Client may serve many threads.
#ifndef MATCACHE_CLIENTS_CPP_CLIENT_H_
#define MATCACHE_CLIENTS_CPP_CLIENT_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <xtensor/xarray.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "clients/cpp/dtype_traits.h"
#include "clients/cpp/mapped_matrix.h"
#include "clients/cpp/raw_stream.h"
#include "clients/cpp/watch_stream.h"
#include "matcache/v1/matcache.grpc.pb.h"
#include "protos/convert/proto_convert.h"
#include "server/core/array/preview.h"
#include "server/core/array/slice.h"
#include "server/core/base/status_macros.h"
#include "server/core/cache/matrix_info.h"

namespace matcache {

inline constexpr char kDefaultAddress[] = "unix:/tmp/matcache/matcached.sock";
// The access token a server keeps beside its default socket for TCP calls.
inline constexpr char kDefaultTokenFile[] = "/tmp/matcache/access.token";

// Data bytes per streamed message the client asks for (the server's cap):
// fewer, larger messages stream faster.
inline constexpr int64_t kStreamChunkBytes = int64_t{4} << 20;

// Whether puts write the segment directly (the server's host) or stream.
enum class LocalMode {
  kAuto,    // local when the server's fd socket is reachable, else streamed
  kAlways,  // local or an error
  kNever,   // always streamed
};

struct ClientOptions {
  // "unix:/PATH" or "HOST:PORT"; empty means $MATCACHE_ADDRESS, else
  // kDefaultAddress.
  std::string address;
  LocalMode local = LocalMode::kAuto;
  // Deadline of each call.
  absl::Duration timeout = absl::Seconds(60);
  // Sent with every call as "authorization: Bearer <token>". nullopt means
  // $MATCACHE_TOKEN if set, else, for a TCP address, the token in
  // `token_file` if this process may read it; empty means no token.
  std::optional<std::string> token;
  // Where a server keeps the access token its TCP listeners need; nullopt
  // means $MATCACHE_TOKEN_FILE, else kDefaultTokenFile.
  std::optional<std::string> token_file;
  // TLS, for a TCP address of a server started with --tls_cert.
  struct Tls {
    std::string root_certs;   // PEM CA certificates that signed the server's
    std::string cert_chain;   // PEM client certificate, for mutual TLS
    std::string private_key;  // PEM key of cert_chain
  };
  std::optional<Tls> tls;
};

class Client {
 public:
  // Connects lazily: an unreachable server shows as UNAVAILABLE on the
  // first call.
  static std::unique_ptr<Client> Connect(ClientOptions options = {});

  const std::string& address() const { return address_; }

  // Maps the current version of `name` read-only, without copying.
  // FAILED_PRECONDITION if its segment cannot be opened from this host.
  absl::StatusOr<MappedMatrix> Get(absl::string_view name);

  // Publishes product(shape) elements of `dtype` at `data` (C order,
  // little-endian) as the new version of `name`. Locally (kAuto, kAlways)
  // the data goes with pwrite into the staging file, whose descriptor the
  // server hands over on its fd socket (see server/core/storage/fd_handoff.h); the
  // file is never mapped here. Where that socket cannot be reached, kAuto
  // streams the data instead and kAlways fails with UNAVAILABLE.
  absl::StatusOr<MatrixInfo> Put(absl::string_view name, const void* data,
                                 absl::Span<const int64_t> shape, DType dtype);

  // Publishes an xtensor expression, evaluated in row-major order.
  template <typename E>
  absl::StatusOr<MatrixInfo> Put(absl::string_view name,
                                 const xt::xexpression<E>& expression) {
    using T = typename E::value_type;
    const xt::xarray<T, xt::layout_type::row_major> array =
        expression.derived_cast();
    const std::vector<int64_t> shape(array.shape().begin(),
                                     array.shape().end());
    return Put(name, array.data(), shape, DTypeOf<T>());
  }

  // numpy basic indexing `indices` (see server/core/array/slice.h) of the current
  // version, cast to T on the server, streamed into a new array.
  template <typename T>
  absl::StatusOr<xt::xarray<T>> Read(absl::string_view name,
                                     const std::vector<Index>& indices = {}) {
    v1::ReadRequest request;
    request.set_name(std::string(name));
    AddIndices(indices, &request);
    request.set_dtype(matcache::ToProto(DTypeOf<T>()));
    request.set_chunk_bytes(kStreamChunkBytes);
    xt::xarray<T> result;
    RETURN_IF_ERROR(
        Stream("/matcache.v1.MatrixCache/Read", request, DTypeOf<T>(), &result));
    return result;
  }

  // The current version downsampled to `shape` (see server/core/array/preview.h).
  // T must be the preview's dtype: double for kMean on real matrices,
  // std::complex<double> on complex ones, the stored type otherwise.
  template <typename T>
  absl::StatusOr<xt::xarray<T>> Preview(absl::string_view name,
                                        const std::vector<int64_t>& shape,
                                        PreviewMethod method = PreviewMethod::kMean) {
    v1::PreviewRequest request;
    request.set_name(std::string(name));
    request.mutable_shape()->Assign(shape.begin(), shape.end());
    request.set_method(matcache::ToProto(method));
    request.set_chunk_bytes(kStreamChunkBytes);
    xt::xarray<T> result;
    RETURN_IF_ERROR(
        Stream("/matcache.v1.MatrixCache/Preview", request, DTypeOf<T>(), &result));
    return result;
  }

  absl::StatusOr<MatrixInfo> Info(absl::string_view name);
  // Every matrix whose name starts with `prefix`, in name order.
  absl::StatusOr<std::vector<MatrixInfo>> List(absl::string_view prefix = "");
  absl::Status Delete(absl::string_view name);

  // Watches the changes of every matrix whose name starts with `prefix`,
  // in the server's commit order, with the snapshot first if `initial`
  // (see WatchStream). No deadline: Cancel the stream to end it.
  std::unique_ptr<WatchStream> Watch(absl::string_view prefix = "",
                                     bool initial = false);
  // The same, calling `on_event` with each event until it returns false
  // (then OK), or the stream's error. Blocks meanwhile.
  absl::Status Watch(absl::string_view prefix, bool initial,
                     const std::function<bool(const WatchEvent&)>& on_event);

 private:
  friend class WatchStream;
  Client(std::string address, ClientOptions options);
  // The call's deadline (options_.timeout) and token.
  void PrepareContext(grpc::ClientContext* context) const;
  void AddToken(grpc::ClientContext* context) const;
  absl::Status FromGrpc(const grpc::Status& status) const;
  absl::StatusOr<MatrixInfo> PutStreamed(absl::string_view name,
                                         const void* data,
                                         absl::Span<const int64_t> shape,
                                         DType dtype, int64_t nbytes);
  void Abort(const std::string& lease);
  static void AddIndices(const std::vector<Index>& indices,
                         v1::ReadRequest* request);

  // Runs the Read-style stream `method` with `request` and fills `result`
  // (an xt::xarray of `dtype`'s element type) chunk by chunk, in place.
  template <typename T>
  absl::Status Stream(absl::string_view method,
                      const google::protobuf::MessageLite& request, DType dtype,
                      xt::xarray<T>* result) {
    return FromGrpc(RunRawStream(
        channel_, method, request,
        [this](grpc::ClientContext* context) { PrepareContext(context); },
        [&](const v1::ReadHeader& header) -> absl::StatusOr<char*> {
          RETURN_IF_ERROR(CheckHeader(header, dtype));
          std::vector<size_t> shape(header.shape().begin(), header.shape().end());
          *result = xt::xarray<T>::from_shape(shape);
          char* out = reinterpret_cast<char*>(result->data());
          const size_t total = result->size() * sizeof(T);
          if (static_cast<int64_t>(total) != header.nbytes()) {
            return absl::DataLossError("the stream's header does not add up");
          }
          AdviseHugePages(out, total);
          return out;
        }));
  }
  static absl::Status CheckHeader(const v1::ReadHeader& header, DType dtype);
  // Asks for transparent huge pages over a large fresh buffer, as numpy
  // does: 512 times fewer page faults while the stream fills it.
  static void AdviseHugePages(char* buffer, size_t size);

  const std::string address_;
  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::MatrixCache::Stub> stub_;
};

}  // namespace matcache

#endif  // MATCACHE_CLIENTS_CPP_CLIENT_H_
