// matcache::Client: the C++ client of matcached.
//
//   auto client = matcache::Client::Connect();          // $MATCACHE_ADDRESS
//   client->Put("prices", xt::xarray<double>{{1, 2}, {3, 4}});
//   absl::StatusOr<MappedMatrix> m = client->Get("prices");  // zero copies
//   auto view = m->View<double>();                            // xtensor view
//
// Every call returns the server's status (NOT_FOUND, INVALID_ARGUMENT,
// RESOURCE_EXHAUSTED, ...) or UNAVAILABLE naming the address when the server
// cannot be reached. Thread-safe: one Client may serve many threads.
#ifndef MATCACHE_CLIENTS_CPP_CLIENT_H_
#define MATCACHE_CLIENTS_CPP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <xtensor/xarray.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "clients/cpp/dtype_traits.h"
#include "clients/cpp/mapped_matrix.h"
#include "matcache/v1/matcache.grpc.pb.h"
#include "server/core/matrix_info.h"

namespace matcache {

inline constexpr char kDefaultAddress[] = "unix:/tmp/matcache/matcached.sock";

// Whether puts write the segment directly (the server's host) or stream.
enum class LocalMode {
  kAuto,    // local when the staging file opens here, else streamed
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
  // little-endian) as the new version of `name`.
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

  absl::StatusOr<MatrixInfo> Info(absl::string_view name);
  // Every matrix whose name starts with `prefix`, in name order.
  absl::StatusOr<std::vector<MatrixInfo>> List(absl::string_view prefix = "");
  absl::Status Delete(absl::string_view name);

 private:
  Client(std::string address, ClientOptions options);
  void PrepareContext(grpc::ClientContext* context) const;
  absl::Status FromGrpc(const grpc::Status& status) const;
  absl::StatusOr<MatrixInfo> PutStreamed(absl::string_view name,
                                         const void* data,
                                         absl::Span<const int64_t> shape,
                                         DType dtype, int64_t nbytes);
  void Abort(const std::string& lease);

  const std::string address_;
  const ClientOptions options_;
  std::unique_ptr<v1::MatrixCache::Stub> stub_;
};

}  // namespace matcache

#endif  // MATCACHE_CLIENTS_CPP_CLIENT_H_
