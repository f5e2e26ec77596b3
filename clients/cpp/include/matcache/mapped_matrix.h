// MappedMatrix: a published matrix mapped read-only into this process, with
// zero copies. Owns the mapping: it is released when the MappedMatrix dies,
// and stays valid until then whatever the server does to the name (replace,
// delete, restart). Copies share the mapping; const access is thread-safe.
#ifndef MATCACHE_MAPPED_MATRIX_H_
#define MATCACHE_MAPPED_MATRIX_H_

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xadapt.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "matcache/dtype.h"
#include "matcache/dtype_traits.h"
#include "matcache/matrix_info.h"

namespace matcache {

// A read-only xtensor view of mapped elements of type T.
template <typename T>
using MatrixView = decltype(xt::adapt(std::declval<const T*>(), size_t{},
                                      xt::no_ownership(),
                                      std::declval<std::vector<size_t>>()));

class MappedMatrix {
 public:
  // Maps the segment `info` describes, read-only. FAILED_PRECONDITION if the
  // file is not the version `info` names (its id differs); NOT_FOUND or
  // PERMISSION_DENIED if it cannot be opened here (another host, another
  // user); DATA_LOSS if it is malformed.
  static absl::StatusOr<MappedMatrix> Open(const MatrixInfo& info);

  const MatrixInfo& info() const { return info_; }
  // info().nbytes bytes, C order, little-endian; never writable.
  const void* data() const { return data_; }

  // The elements as an xtensor view with the matrix's shape.
  // INVALID_ARGUMENT if T is not the matrix's dtype.
  template <typename T>
  absl::StatusOr<MatrixView<T>> View() const {
    if (DTypeOf<T>() != info_.dtype) {
      return absl::InvalidArgumentError(
          absl::StrCat("matrix \"", info_.name, "\" holds ",
                       GetDTypeInfo(info_.dtype).name, ", not ",
                       GetDTypeInfo(DTypeOf<T>()).name));
    }
    std::vector<size_t> shape(info_.shape.begin(), info_.shape.end());
    size_t size = 1;
    for (size_t extent : shape) size *= extent;
    return xt::adapt(static_cast<const T*>(data()), size, xt::no_ownership(),
                     shape);
  }

 private:
  MappedMatrix(MatrixInfo info, std::shared_ptr<const void> mapping,
               const void* data)
      : info_(std::move(info)), mapping_(std::move(mapping)), data_(data) {}

  MatrixInfo info_;
  // Owns the mapping; data_ points into it.
  std::shared_ptr<const void> mapping_;
  const void* data_;
};

}  // namespace matcache

#endif  // MATCACHE_MAPPED_MATRIX_H_
