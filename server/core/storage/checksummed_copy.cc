#include "server/core/storage/checksummed_copy.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/core/base/file_io.h"
#include "server/core/base/parallel.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/checksum.h"
#include "server/core/storage/preallocate.h"

namespace matcache {
namespace {

// Bytes a thread reads, hashes and writes at a time: small enough to stay
// in the core's cache from the read to the write.
constexpr size_t kPieceBytes = size_t{256} << 10;

// Copies the bytes [begin, end) of one checksum block and hashes them into
// `block`; `scratch` is kPieceBytes of the calling thread's own.
using BlockCopy = absl::FunctionRef<absl::Status(
    size_t begin, size_t end, char* scratch, BlockChecksummer& block)>;

// Runs `copy` for every checksum block of [0, size) on up to `threads`
// threads, each taking a run of whole blocks, and combines the blocks'
// checksums; the first error stops every thread and is returned.
absl::StatusOr<uint64_t> CopyBlocks(size_t size, int threads, BlockCopy copy) {
  const size_t blocks = (size + kChecksumBlockBytes - 1) / kChecksumBlockBytes;
  std::vector<uint64_t> sums(blocks);
  std::atomic<bool> failed{false};
  absl::Mutex mu;
  absl::Status first_error;
  RunInParts(blocks, threads, [&](size_t first, size_t last) {
    std::unique_ptr<char[]> scratch(new char[kPieceBytes]);
    BlockChecksummer block;
    for (size_t b = first; b < last && !failed.load(); ++b) {
      block.Reset();
      const size_t begin = b * kChecksumBlockBytes;
      const size_t end = std::min(begin + kChecksumBlockBytes, size);
      absl::Status status = copy(begin, end, scratch.get(), block);
      if (!status.ok()) {
        absl::MutexLock lock(&mu);
        if (first_error.ok()) first_error = std::move(status);
        failed = true;
        return;
      }
      sums[b] = block.Digest();
    }
  });
  if (!first_error.ok()) return first_error;
  return CombineBlockChecksums(sums);
}

absl::Status ReadPiece(const FileRange& from, char* buffer, size_t size,
                       size_t at) {
  ASSIGN_OR_RETURN(const size_t got,
                   ReadAt(from.fd, buffer, size,
                          from.offset + static_cast<int64_t>(at), from.name));
  if (got < size) {
    return absl::InvalidArgumentError(
        absl::StrCat(from.name, " ends before the data it announces"));
  }
  return absl::OkStatus();
}

// The start of the page that holds `p`.
char* PageStart(char* p) {
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  return reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(p) & ~(page - 1));
}

}  // namespace

absl::StatusOr<uint64_t> CopyWithChecksum(FileRange from, FileRange to,
                                          size_t size, int threads) {
  return CopyBlocks(
      size, threads,
      [&](size_t begin, size_t end, char* scratch, BlockChecksummer& block) {
        for (size_t at = begin; at < end; at += kPieceBytes) {
          const size_t piece = std::min(kPieceBytes, end - at);
          RETURN_IF_ERROR(ReadPiece(from, scratch, piece, at));
          block.Update(scratch, piece);
          RETURN_IF_ERROR(WriteAt(to.fd, scratch, piece,
                                  to.offset + static_cast<int64_t>(at),
                                  to.name));
        }
        return absl::OkStatus();
      });
}

absl::StatusOr<uint64_t> CopyIntoMappingWithChecksum(FileRange from, char* to,
                                                     const std::string& to_name,
                                                     size_t size, int threads) {
  return CopyBlocks(
      size, threads,
      [&](size_t begin, size_t end, char*, BlockChecksummer& block) {
        char* const first_page = PageStart(to + begin);
        RETURN_IF_ERROR(PopulateWrite(
            first_page, static_cast<size_t>(to + end - first_page), to_name));
        for (size_t at = begin; at < end; at += kPieceBytes) {
          const size_t piece = std::min(kPieceBytes, end - at);
          RETURN_IF_ERROR(ReadPiece(from, to + at, piece, at));
          block.Update(to + at, piece);
        }
        return absl::OkStatus();
      });
}

}  // namespace matcache
