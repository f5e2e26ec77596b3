// Fuzzes what the server does with a request before it touches the store.
// The input picks a request kind and a small stored matrix; the rest is the
// request's serialized bytes, parsed as the server parses them (Read and
// Preview through ParseRequest, the others through protobuf), then:
//   Read     chunk size, indices and dtype conversion, index resolution
//            against the matrix, and every chunk read and cast as the
//            stream would send it;
//   Preview  chunk size, method, Previewer::Create on the matrix and every
//            output row computed;
//   Create, Put header  dtype, retention and original dtype conversion and
//            the staging header BeginWrite makes (name, shape, size checks),
//            which must encode and decode back;
//   Load     resolving the source path inside a scratch data directory:
//            whatever the path, the result lies inside it.
#include <fuzzer/FuzzedDataProvider.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "google/protobuf/stubs/logging.h"
#include "matcache/v1/matcache.pb.h"
#include "fuzz/fuzz_checks.h"
#include "protos/convert/proto_convert.h"
#include "server/core/array/cast.h"
#include "server/core/array/preview.h"
#include "server/core/array/selection_reader.h"
#include "server/core/array/slice.h"
#include "matcache/dtype.h"
#include "server/core/format/header.h"
#include "server/core/format/shape.h"
#include "server/core/storage/source_file.h"
#include "server/service/read_frames.h"

namespace matcache {
namespace {

using matcache_fuzz::Check;

constexpr int64_t kDefaultChunkBytes = int64_t{1} << 20;
// Largest matrix a request is served from: small keeps runs fast.
constexpr int64_t kMaxMatrixBytes = 6 * 6 * 6 * 16;

// The stored matrix a Read or Preview is served from.
struct Matrix {
  DType dtype;
  std::vector<int64_t> shape;
  std::string data;
};

// Takes its bytes from the end of the input (FuzzedDataProvider's
// integers), leaving the front to the request. Extents are small, or any
// size for a matrix that holds no elements (a put may create one). The data
// repeats a fuzzed 8-byte pattern, which reaches NaNs, infinities and
// extreme values.
Matrix ConsumeMatrix(FuzzedDataProvider& input) {
  Matrix matrix;
  const absl::Span<const DTypeInfo> dtypes = AllDTypes();
  const DTypeInfo& info =
      dtypes[input.ConsumeIntegralInRange<size_t>(0, dtypes.size() - 1)];
  matrix.dtype = info.dtype;
  matrix.shape.resize(input.ConsumeIntegralInRange<size_t>(0, 3));
  for (int64_t& extent : matrix.shape) {
    extent = input.ConsumeBool() ? input.ConsumeIntegralInRange<int64_t>(0, 5)
                                 : input.ConsumeIntegral<int64_t>();
  }
  absl::StatusOr<int64_t> bytes = ByteSize(matrix.shape, info.item_size);
  if (!bytes.ok() || *bytes > kMaxMatrixBytes) {
    for (int64_t& extent : matrix.shape) extent = std::abs(extent % 6);
    bytes = ByteSize(matrix.shape, info.item_size);
  }
  const uint64_t pattern = input.ConsumeIntegral<uint64_t>();
  matrix.data.resize(static_cast<size_t>(*bytes));
  for (size_t i = 0; i < matrix.data.size(); ++i) {
    matrix.data[i] = static_cast<char>(pattern >> (8 * (i % 8)));
  }
  return matrix;
}

void ServeRead(const Matrix& matrix, const grpc::ByteBuffer& raw) {
  v1::ReadRequest request;
  if (!ParseRequest(raw, &request).ok()) return;
  absl::StatusOr<int64_t> chunk_bytes =
      ChunkBytes(request.chunk_bytes(), kDefaultChunkBytes);
  if (!chunk_bytes.ok()) return;
  absl::StatusOr<std::vector<Index>> indices =
      IndicesFromProto(request.index());
  if (!indices.ok()) return;
  DType output = matrix.dtype;
  if (request.dtype() != v1::DTYPE_UNSPECIFIED) {
    absl::StatusOr<DType> cast = FromProto(request.dtype());
    if (!cast.ok()) return;
    output = *cast;
  }
  absl::StatusOr<std::vector<DimSelection>> selection =
      ResolveIndices(matrix.shape, *indices);
  if (!selection.ok()) return;

  const int64_t source_item = GetDTypeInfo(matrix.dtype).item_size;
  const int64_t output_item = GetDTypeInfo(output).item_size;
  SelectionReader reader(matrix.data.data(), matrix.shape, source_item,
                         *selection);
  int64_t selected = 1;
  for (int64_t extent : SelectedShape(*selection)) selected *= extent;
  Check(reader.total_bytes() == selected * source_item);
  const int64_t chunk_elements =
      std::max<int64_t>(1, *chunk_bytes / std::max(source_item, output_item));
  while (reader.remaining_bytes() > 0) {
    const int64_t elements =
        std::min(chunk_elements, reader.remaining_bytes() / source_item);
    std::string scratch(static_cast<size_t>(elements * source_item), '\0');
    std::string out(static_cast<size_t>(elements * output_item), '\0');
    Check(reader.Read(scratch.data(), scratch.size()) == scratch.size());
    CastElements(matrix.dtype, output, scratch.data(), out.data(), elements);
  }
}

void ServePreview(const Matrix& matrix, const grpc::ByteBuffer& raw) {
  v1::PreviewRequest request;
  if (!ParseRequest(raw, &request).ok()) return;
  if (!ChunkBytes(request.chunk_bytes(), kDefaultChunkBytes).ok()) return;
  absl::StatusOr<PreviewMethod> method =
      PreviewMethodFromProto(request.method());
  if (!method.ok()) return;
  absl::StatusOr<Previewer> previewer =
      Previewer::Create(matrix.data.data(), matrix.shape, matrix.dtype,
                        ShapeFromProto(request.shape()), *method);
  if (!previewer.ok()) return;
  Check(previewer->rows() >= 0 && previewer->row_bytes() >= 0);
  std::string out(
      static_cast<size_t>(previewer->rows() * previewer->row_bytes()), '\0');
  previewer->ComputeRows(0, previewer->rows(), out.data(), /*threads=*/1);
}

// What Create and the header of a Put check before Store::BeginWrite
// creates a file, and the header BeginWrite makes from them.
template <typename Request>
void BeginWrite(const Request& request) {
  absl::StatusOr<WriteRequest> asked = WriteRequestFromProto(request, absl::Now());
  if (!asked.ok()) return;
  absl::StatusOr<SegmentHeader> header =
      MakeStagingHeader(asked->name, asked->shape, asked->dtype, "");
  if (!header.ok()) return;
  if (asked->original_dtype.has_value()) {
    header->original_dtype = *asked->original_dtype;
  }
  std::string page(kHeaderSize, '\0');
  EncodeHeader(*header, absl::MakeSpan(page));
  absl::StatusOr<SegmentHeader> decoded = DecodeHeader(page);
  Check(decoded.ok() && decoded->name == header->name &&
        decoded->shape == header->shape &&
        decoded->data_length == header->data_length &&
        decoded->original_dtype == header->original_dtype);
}

// A scratch data directory holding a source, a subdirectory and a link that
// leads out of it; removed at exit.
class DataDir {
 public:
  DataDir() {
    char pattern[] = "/tmp/matcache_request_fuzzer.XXXXXX";
    Check(mkdtemp(pattern) != nullptr);
    char canonical[PATH_MAX];
    Check(realpath(pattern, canonical) != nullptr);
    root_ = canonical;
    Check(mkdir(Path("sub").c_str(), 0700) == 0);
    for (const char* file : {"a.npy", "sub/b.npy"}) {
      std::FILE* f = std::fopen(Path(file).c_str(), "w");
      Check(f != nullptr && std::fclose(f) == 0);
    }
    Check(symlink("/etc", Path("out").c_str()) == 0);
  }
  ~DataDir() {
    for (const char* entry : {"out", "sub/b.npy", "a.npy"})
      unlink(Path(entry).c_str());
    rmdir(Path("sub").c_str());
    rmdir(root_.c_str());
  }
  const std::string& root() const { return root_; }

 private:
  std::string Path(const char* entry) const { return root_ + "/" + entry; }
  std::string root_;
};

void ServeLoad(const v1::LoadRequest& request) {
  static DataDir data_dir;  // removed by static destruction at exit
  absl::StatusOr<std::string> path =
      ResolveSourcePath(data_dir.root(), request.path());
  if (!path.ok()) return;
  struct stat st;
  Check(absl::StartsWith(*path, data_dir.root() + "/") &&
        lstat(path->c_str(), &st) == 0 && S_ISREG(st.st_mode));
}

enum class Kind { kRead, kPreview, kCreate, kPut, kLoad, kMaxValue = kLoad };

void FuzzRequest(const uint8_t* data, size_t size) {
  FuzzedDataProvider input(data, size);
  const Kind kind = input.ConsumeEnum<Kind>();
  const Matrix matrix = ConsumeMatrix(input);
  const std::string bytes = input.ConsumeRemainingBytesAsString();
  grpc::Slice slice(bytes.data(), bytes.size());
  const grpc::ByteBuffer raw(&slice, 1);
  switch (kind) {
    case Kind::kRead:
      ServeRead(matrix, raw);
      break;
    case Kind::kPreview:
      ServePreview(matrix, raw);
      break;
    case Kind::kCreate: {
      v1::CreateRequest request;
      if (request.ParseFromString(bytes)) BeginWrite(request);
      break;
    }
    case Kind::kPut: {
      v1::PutRequest request;
      if (request.ParseFromString(bytes) && request.has_header()) {
        BeginWrite(request.header());
      }
      break;
    }
    case Kind::kLoad: {
      v1::LoadRequest request;
      if (request.ParseFromString(bytes)) ServeLoad(request);
      break;
    }
  }
}

}  // namespace
}  // namespace matcache

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Protobuf refuses string fields that are not UTF-8, as the server does,
  // and logs each: noise at this rate.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  matcache::FuzzRequest(data, size);
  return 0;
}
