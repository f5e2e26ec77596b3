#include "server/core/storage/checksummed_copy.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/core/base/parallel.h"
#include "server/core/base/posix_error.h"
#include "server/core/format/checksum.h"

namespace matcache {
namespace {

// Bytes a thread reads, hashes and writes at a time: small enough to stay
// in the core's cache from the read to the write.
constexpr size_t kPieceBytes = size_t{256} << 10;

absl::Status ReadPiece(const FileRange& from, char* buffer, size_t size,
                       int64_t at) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(from.fd, buffer + done, size - done,
                            from.offset + at + static_cast<int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(errno, "read", from.name);
    if (n == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(from.name, " ends before the data it announces"));
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status WritePiece(const FileRange& to, const char* buffer, size_t size,
                        int64_t at) {
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pwrite(to.fd, buffer + done, size - done,
                             to.offset + at + static_cast<int64_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return PosixError(errno, "write", to.name);
    done += static_cast<size_t>(n);
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
          status = WritePiece(to, buffer.get(), piece, static_cast<int64_t>(at));
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
