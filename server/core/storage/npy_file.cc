#include "server/core/storage/npy_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/core/array/npy_data_writer.h"
#include "server/core/base/file_io.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"

namespace matcache {
namespace {

// Bytes read per step when the data must be converted.
constexpr size_t kConvertPieceBytes = 1 << 20;

// Reads exactly `size` bytes at `offset`; INVALID_ARGUMENT if the file ends.
absl::Status ReadFully(int fd, char* out, size_t size, off_t offset,
                       const std::string& path) {
  ASSIGN_OR_RETURN(const size_t got, ReadAt(fd, out, size, offset, path));
  if (got < size) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": the .npy file is shorter than its header says"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<NpyHeader> ReadNpyFileHeader(int fd, const std::string& path) {
  std::string preamble(kNpyPreambleBytes, '\0');
  const ssize_t got = pread(fd, preamble.data(), preamble.size(), 0);
  if (got < 0) return PosixError(errno, "read", path);
  preamble.resize(static_cast<size_t>(got));
  absl::StatusOr<int64_t> size = NpyHeaderSize(preamble);
  if (!size.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", size.status().message()));
  }
  // numpy itself refuses headers over 10000 bytes by default.
  constexpr int64_t kMaxHeaderBytes = int64_t{1} << 20;
  if (*size > kMaxHeaderBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": .npy header of ", *size, " bytes is too large"));
  }
  std::string text(static_cast<size_t>(*size), '\0');
  absl::Status read = ReadFully(fd, text.data(), text.size(), 0, path);
  if (!read.ok()) return read;
  absl::StatusOr<NpyHeader> header = ParseNpyHeader(text);
  if (!header.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", header.status().message()));
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError(errno, "stat", path);
  // Compared without adding: the shape may announce up to INT64_MAX bytes.
  if (header->data_bytes > st.st_size - header->data_offset) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the .npy file has ", st.st_size, " bytes; its header needs ",
        header->data_offset, " + ", header->data_bytes));
  }
  return header;
}

absl::Status ReadNpyFileData(int fd, const std::string& path,
                             const NpyHeader& header, Segment& staging,
                             int threads) {
  const size_t size = static_cast<size_t>(header.data_bytes);
  if (InMatcacheLayout(header)) {
    return staging.CopyDataFrom(fd, header.data_offset, path, threads);
  }
  NpyDataWriter writer(header, header.dtype, staging.mutable_data());
  std::vector<char> piece(std::min(size, kConvertPieceBytes));
  for (size_t done = 0; done < size;) {
    const size_t n = std::min(size - done, piece.size());
    RETURN_IF_ERROR(ReadFully(fd, piece.data(), n,
                              header.data_offset + static_cast<off_t>(done), path));
    writer.Write(piece.data(), n);
    done += n;
  }
  return absl::OkStatus();
}

}  // namespace matcache
