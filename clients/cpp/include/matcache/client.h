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
//
// Installed as <matcache/client.h>: link matcache::client (CMake,
// find_package(matcache)) or -lmatcache_client. Only absl and xtensor
// headers come with it; gRPC stays inside the library.
#ifndef MATCACHE_CLIENT_H_
#define MATCACHE_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "matcache/dtype.h"
#include "matcache/dtype_traits.h"
#include "matcache/index.h"
#include "matcache/mapped_matrix.h"
#include "matcache/matrix_info.h"
#include "matcache/preview_method.h"
#include "matcache/watch_event.h"
#include "matcache/watch_stream.h"

namespace matcache {

// Where matcached keeps its default socket and, beside it, the access token
// its TCP listeners need: /run/matcache when systemd starts it (the installed
// service), /tmp/matcache when started by hand. Searched in this order; only
// the first can be created by nobody but root.
inline constexpr const char* kServerDirs[] = {"/run/matcache", "/tmp/matcache"};

// The file `name` in the first of `dirs` that holds it and that no user but
// root and this process's own could have placed it in (a directory, not a
// symbolic link, that only its owner may write to, owned by root or this
// user, or by anyone when only root may write to its parent); else in the
// first of `dirs` that does not hold it, where an error then points; ""
// if each holds one but none is trusted.
std::string ServerFile(absl::string_view name,
                       absl::Span<const char* const> dirs = kServerDirs);

// The socket of a server started with its defaults: "unix:" and
// ServerFile("matcached.sock") (only "unix:", on which no server listens,
// if that is "").
std::string DefaultAddress();

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
  // DefaultAddress().
  std::string address;
  LocalMode local = LocalMode::kAuto;
  // Deadline of each call.
  absl::Duration timeout = absl::Seconds(60);
  // Sent with every call as "authorization: Bearer <token>". nullopt means
  // $MATCACHE_TOKEN if set, else, for a TCP address, the token in
  // `token_file` if this process may read it; empty means no token.
  std::optional<std::string> token;
  // Where a server keeps the access token its TCP listeners need; nullopt
  // means $MATCACHE_TOKEN_FILE, else ServerFile("access.token").
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

  const std::string& address() const;

  // Maps the current version of `name` read-only, without copying.
  // FAILED_PRECONDITION if its segment cannot be opened from this host.
  absl::StatusOr<MappedMatrix> Get(absl::string_view name);

  // Publishes product(shape) elements of `dtype` at `data` (C order,
  // little-endian) as the new version of `name`. Locally (kAuto, kAlways)
  // the data goes with pwrite into the staging file, whose descriptor the
  // server hands over on its fd socket; the file is never mapped here. Where that socket cannot be reached, kAuto
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

  // numpy basic indexing `indices` of the current version (numpy's
  // semantics: positions drop a dimension, slices keep it), cast to T on the
  // server, streamed into a new array.
  template <typename T>
  absl::StatusOr<xt::xarray<T>> Read(absl::string_view name,
                                     const std::vector<Index>& indices = {}) {
    xt::xarray<T> result;
    absl::Status status = ReadInto(name, indices, DTypeOf<T>(), Filler(&result));
    if (!status.ok()) return status;
    return result;
  }

  // The current version downsampled to `shape`: each output element
  // reduces one block of the matrix by `method`. T must be the preview's
  // dtype: double for kMean on real matrices, std::complex<double> on
  // complex ones, the stored type otherwise.
  template <typename T>
  absl::StatusOr<xt::xarray<T>> Preview(absl::string_view name,
                                        const std::vector<int64_t>& shape,
                                        PreviewMethod method = PreviewMethod::kMean) {
    xt::xarray<T> result;
    absl::Status status =
        PreviewInto(name, shape, method, DTypeOf<T>(), Filler(&result));
    if (!status.ok()) return status;
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
                     absl::FunctionRef<bool(const WatchEvent&)> on_event);

  ~Client();

 private:
  // The gRPC channel and the calls made on it (client.cc).
  class Connection;
  friend class WatchStream::Call;
  // Receives a streamed result's shape and byte size and returns where its
  // bytes go, or an error that cancels the stream.
  using Allocate = absl::FunctionRef<absl::StatusOr<char*>(
      const std::vector<int64_t>& shape, int64_t nbytes)>;

  explicit Client(std::unique_ptr<Connection> connection);
  absl::Status ReadInto(absl::string_view name,
                        const std::vector<Index>& indices, DType dtype,
                        Allocate allocate);
  absl::Status PreviewInto(absl::string_view name,
                           const std::vector<int64_t>& shape,
                           PreviewMethod method, DType dtype,
                           Allocate allocate);

  // An Allocate that shapes `result` and hands out its elements.
  template <typename T>
  static auto Filler(xt::xarray<T>* result) {
    return [result](const std::vector<int64_t>& shape,
                    int64_t nbytes) -> absl::StatusOr<char*> {
      *result = xt::xarray<T>::from_shape(
          std::vector<size_t>(shape.begin(), shape.end()));
      if (static_cast<int64_t>(result->size() * sizeof(T)) != nbytes) {
        return absl::DataLossError("the stream's header does not add up");
      }
      return reinterpret_cast<char*>(result->data());
    };
  }

  std::unique_ptr<Connection> connection_;
};

}  // namespace matcache

#endif  // MATCACHE_CLIENT_H_
