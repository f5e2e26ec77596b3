#include "server/core/storage/checksummed_copy.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/core/base/file_io.h"
#include "server/core/base/parallel.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/checksum.h"

namespace matcache {
namespace {

// Bytes a thread reads, hashes and writes at a time: small enough to stay
// in the core's cache from the read to the write.
constexpr size_t kPieceBytes = size_t{256} << 10;

absl::Status ReadPiece(const FileRange& from, char* buffer, size_t size,
                       int64_t at) {
  ASSIGN_OR_RETURN(const size_t got,
                   ReadAt(from.fd, buffer, size, from.offset + at, from.name));
  if (got < size) {
    return absl::InvalidArgumentError(
        absl::StrCat(from.name, " ends before the data it announces"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<uint64_t> CopyWithChecksum(FileRange from, FileRange to,
                                          size_t size, int threads) {
  const size_t blocks = (size + kChecksumBlockBytes - 1) / kChecksumBlockBytes;
  std::vector<uint64_t> sums(blocks);
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first_error;
  RunInParts(blocks, threads, [&](size_t first, size_t last) {
    std::unique_ptr<char[]> buffer(new char[kPieceBytes]);
    BlockChecksummer block;
    for (size_t b = first; b < last && !failed.load(); ++b) {
      block.Reset();
      const size_t begin = b * kChecksumBlockBytes;
      const size_t end = std::min(begin + kChecksumBlockBytes, size);
      for (size_t at = begin; at < end; at += kPieceBytes) {
        const size_t piece = std::min(kPieceBytes, end - at);
        absl::Status status =
            ReadPiece(from, buffer.get(), piece, static_cast<int64_t>(at));
        if (status.ok()) {
          block.Update(buffer.get(), piece);
          status = WriteAt(to.fd, buffer.get(), piece,
                           to.offset + static_cast<int64_t>(at), to.name);
        }
        if (!status.ok()) {
          absl::MutexLock lock(&mu);
          if (first_error.ok()) first_error = std::move(status);
          failed = true;
          return;
        }
      }
      sums[b] = block.Digest();
    }
  });
  if (!first_error.ok()) return first_error;
  return CombineBlockChecksums(sums);
}

}  // namespace matcache
