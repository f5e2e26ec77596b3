// Fuzzes the reading of .npy sources as Load does it: the input is an .npy
// file (in memory, read through its descriptor by ReadNpyFileHeader). A
// header that parses must describe data inside the file; small data is
// then converted to matcache's layout by NpyDataWriter, in two pieces.
// Headers written by NpyHeaderFor for the parsed dtype and shape must parse
// back to them.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "fuzz/fuzz_checks.h"
#include "server/core/array/npy_data_writer.h"
#include "server/core/format/npy.h"
#include "server/core/storage/npy_file.h"

namespace {

using matcache_fuzz::Check;

// Largest data converted per input: enough for every layout, small enough
// to keep runs fast.
constexpr int64_t kMaxConvertedBytes = 1 << 16;
// Magic, version and a 2-byte header length (format 1.0).
constexpr int64_t kShortestPreamble = 10;

// The input as a file: an anonymous memory file, named by its /proc path.
class MemoryFile {
 public:
  explicit MemoryFile(absl::string_view contents)
      : fd_(memfd_create("npy_fuzzer", 0)) {
    Check(fd_ >= 0);
    size_t done = 0;
    while (done < contents.size()) {
      const ssize_t n =
          write(fd_, contents.data() + done, contents.size() - done);
      Check(n > 0);
      done += static_cast<size_t>(n);
    }
  }
  ~MemoryFile() { close(fd_); }
  int fd() const { return fd_; }

 private:
  const int fd_;
};

void CheckHeaderFor(const matcache::NpyHeader& parsed) {
  absl::StatusOr<matcache::NpyHeader> again = matcache::ParseNpyHeader(
      matcache::NpyHeaderFor(parsed.dtype, parsed.shape));
  Check(again.ok() && again->dtype == parsed.dtype &&
        again->shape == parsed.shape && !again->fortran_order &&
        !again->big_endian && again->data_offset % 64 == 0 &&
        again->data_bytes == parsed.data_bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view file(reinterpret_cast<const char*>(data), size);
  const MemoryFile memory_file(file);
  absl::StatusOr<matcache::NpyHeader> header =
      matcache::ReadNpyFileHeader(memory_file.fd(), "npy_fuzzer input");
  if (!header.ok()) return 0;
  Check(header->data_offset >= kShortestPreamble && header->data_bytes >= 0 &&
        header->data_bytes <= static_cast<int64_t>(size) - header->data_offset);
  CheckHeaderFor(*header);
  if (header->data_bytes <= kMaxConvertedBytes) {
    std::string converted(static_cast<size_t>(header->data_bytes), '\0');
    matcache::NpyDataWriter writer(*header, header->dtype, converted.data());
    const absl::string_view stored = file.substr(
        static_cast<size_t>(header->data_offset), static_cast<size_t>(header->data_bytes));
    // In two pieces, the first of which may end inside an element.
    const size_t first = stored.size() / 3;
    writer.Write(stored.data(), first);
    writer.Write(stored.data() + first, stored.size() - first);
    Check(writer.received_bytes() == header->data_bytes);
  }
  return 0;
}
