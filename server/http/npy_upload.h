// NpyUpload: PUT /v1/matrices/{name} with an .npy body (any dtype matcache
// stores, either byte order, C or Fortran order). The header is checked
// before any data is accepted (against Content-Length, if sent, and the
// size limits); the data then streams into a staging segment, converted to
// C order, little-endian and the stored dtype, with bounded memory; data
// already in that layout is hashed as it arrives (Segment::AppendData), so
// that Commit does not read it again. Only a
// body of exactly the header's size is committed: a wrong, short, long or
// unsupported body, or a client that goes away, aborts the write, so
// nothing is published and no staging file is left.
#ifndef MATCACHE_SERVER_HTTP_NPY_UPLOAD_H_
#define MATCACHE_SERVER_HTTP_NPY_UPLOAD_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/array/npy_data_writer.h"
#include "server/core/cache/store.h"
#include "server/http/http_server.h"

namespace matcache {

class NpyUpload : public HttpUpload {
 public:
  // Checks what the request's headers say: the name, the query (`pin` 1 or
  // 0, `ttl` seconds, `store_dtype` a numpy name, as in the Python put) and
  // Content-Length. INVALID_ARGUMENT naming what is wrong.
  static absl::StatusOr<std::unique_ptr<HttpUpload>> Start(
      Store* store, absl::string_view name, const HttpRequest& request);

  // Aborts the staging write unless it was committed.
  ~NpyUpload() override;

  std::optional<HttpResponse> Receive(absl::string_view data) override;
  // 201 with the MatrixInfo JSON for a new name, 200 for a replaced one.
  HttpResponse Finish() override;

 private:
  NpyUpload(Store* store, std::string name, Retention retention,
            std::optional<DType> store_dtype, std::optional<int64_t> content_length)
      : store_(store),
        name_(std::move(name)),
        retention_(retention),
        store_dtype_(store_dtype),
        content_length_(content_length) {}
  // Parses the header once it is complete and begins the staging write.
  absl::Status BeginOnceHeaderRead();
  // Writes data bytes, refusing more than the header announced.
  std::optional<HttpResponse> WriteData(absl::string_view data);
  // Aborts the staging write, if any.
  void AbortWrite();
  // Aborts the write and returns the problem response.
  HttpResponse Fail(const absl::Status& status);

  Store* const store_;
  const std::string name_;
  const Retention retention_;
  const std::optional<DType> store_dtype_;
  const std::optional<int64_t> content_length_;
  std::string header_bytes_;  // the body until its header is complete
  // The data bytes the header announces, once it is read.
  std::optional<int64_t> expected_bytes_;
  int64_t received_bytes_ = 0;
  std::optional<StagingWrite> write_;
  // Unset when the data is stored as it arrives (appended to the segment).
  std::optional<NpyDataWriter> converter_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_NPY_UPLOAD_H_
