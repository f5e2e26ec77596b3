#include "server/core/storage/segment.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "server/core/base/crash_point.h"
#include "server/core/base/fd_closer.h"
#include "server/core/base/file_io.h"
#include "server/core/base/logging.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/checksum.h"
#include "server/core/storage/checksummed_copy.h"
#include "server/core/storage/preallocate.h"

namespace matcache {
namespace {

// Writes the encoded `header` at the start of the file `fd`.
absl::Status WriteHeader(int fd, const SegmentHeader& header,
                         const std::string& path) {
  char page[kHeaderSize];
  EncodeHeader(header, absl::Span<char>(page, kHeaderSize));
  return WriteAt(fd, page, kHeaderSize, 0, path);
}

absl::StatusOr<char*> Map(int fd, size_t size, int protection,
                          const std::string& path) {
  void* map = mmap(nullptr, size, protection, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return PosixError(errno, "mmap", path);
  return static_cast<char*>(map);
}

// Sealed segments kept mapped in this process (Segment::kMaxKeptMappings).
std::atomic<int64_t> kept_mappings{0};

// Counts one more kept mapping, unless there are as many as may be.
bool TakeKeptMapping() {
  int64_t kept = kept_mappings.load(std::memory_order_relaxed);
  while (kept < Segment::kMaxKeptMappings) {
    if (kept_mappings.compare_exchange_weak(kept, kept + 1,
                                            std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

}  // namespace

SegmentData::~SegmentData() { munmap(map_, map_size_); }

// The mappings of a sealed segment, shared by the threads that read it.
struct Segment::Mappings {
  absl::Mutex mu;
  // Kept while the segment lives: one of kMaxKeptMappings (counted), or
  // made as the file was unlinked.
  std::shared_ptr<const SegmentData> kept ABSL_GUARDED_BY(mu);
  bool counted ABSL_GUARDED_BY(mu) = false;
  // Otherwise the mapping, for as long as anyone holds it.
  std::weak_ptr<const SegmentData> held ABSL_GUARDED_BY(mu);

  // Keeps `data` if it is one of kMaxKeptMappings; holders share it anyway.
  void KeepIfAllowed(const std::shared_ptr<const SegmentData>& data)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    held = data;
    if (TakeKeptMapping()) {
      kept = data;
      counted = true;
    }
  }
};

Segment::Segment(std::string path, SegmentHeader header, int fd, char* map,
                 size_t map_size)
    : path_(std::move(path)),
      header_(std::move(header)),
      fd_(fd),
      map_(map),
      map_size_(map_size) {}

Segment::Segment(Segment&& other) noexcept
    : path_(std::move(other.path_)),
      header_(std::move(other.header_)),
      fd_(std::exchange(other.fd_, -1)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      device_(other.device_),
      inode_(other.inode_),
      mappings_(std::move(other.mappings_)),
      writable_(std::exchange(other.writable_, false)),
      writers_gone_(std::exchange(other.writers_gone_, false)),
      handed_out_(std::exchange(other.handed_out_, false)),
      written_(std::exchange(other.written_, {})) {}

Segment& Segment::operator=(Segment&& other) noexcept {
  if (this != &other) {
    Release();
    path_ = std::move(other.path_);
    header_ = std::move(other.header_);
    fd_ = std::exchange(other.fd_, -1);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    device_ = other.device_;
    inode_ = other.inode_;
    mappings_ = std::move(other.mappings_);
    writable_ = std::exchange(other.writable_, false);
    writers_gone_ = std::exchange(other.writers_gone_, false);
    handed_out_ = std::exchange(other.handed_out_, false);
    written_ = std::exchange(other.written_, {});
  }
  return *this;
}

Segment::~Segment() { Release(); }

void Segment::Release() {
  if (map_ != nullptr) munmap(map_, map_size_);
  if (fd_ >= 0) close(fd_);
  map_ = nullptr;
  fd_ = -1;
  if (mappings_ != nullptr) {
    absl::MutexLock lock(&mappings_->mu);
    if (mappings_->counted) kept_mappings.fetch_sub(1, std::memory_order_relaxed);
    mappings_->counted = false;
  }
  mappings_.reset();  // holders of a SegmentData keep theirs
}

absl::StatusOr<Segment> Segment::Create(std::string path, SegmentHeader header,
                                        mode_t mode, Prefault prefault,
                                        std::optional<gid_t> group) {
  const int fd =
      open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return PosixError(errno, "create", path);
  return Prepare(fd, /*allocated=*/0, std::move(path), std::move(header), mode,
                 prefault, group);
}

absl::StatusOr<Segment> Segment::CreateFromSpare(
    SpareFile& spare, std::string path, SegmentHeader header, mode_t mode,
    Prefault prefault, std::optional<gid_t> group) {
  const int64_t allocated = spare.size();
  ASSIGN_OR_RETURN(const int fd, spare.MoveTo(path));
  return Prepare(fd, allocated, std::move(path), std::move(header), mode,
                 prefault, group);
}

absl::StatusOr<Segment> Segment::Prepare(int fd, int64_t allocated,
                                         std::string path, SegmentHeader header,
                                         mode_t mode, Prefault prefault,
                                         std::optional<gid_t> group) {
  const size_t size = header.data_offset + header.data_length;
  FdCloser closer(fd);
  // From here on, any failure must remove the file.
  absl::Status status = [&]() -> absl::Status {
    if (group.has_value() && fchown(fd, static_cast<uid_t>(-1), *group) != 0) {
      return PosixError(errno, "fchown", path);
    }
    if (fchmod(fd, mode) != 0) return PosixError(errno, "fchmod", path);
    const off_t wanted = static_cast<off_t>(size);
    if (allocated > wanted && ftruncate(fd, wanted) != 0) {
      return PosixError(errno, "ftruncate", path);
    }
    if (allocated >= wanted) return absl::OkStatus();
    return Preallocate(fd, allocated, wanted - allocated, path);
  }();
  char* map = nullptr;
  if (status.ok()) {
    absl::StatusOr<char*> mapped = Map(fd, size, PROT_READ | PROT_WRITE, path);
    if (mapped.ok()) {
      map = *mapped;
    } else {
      status = mapped.status();
    }
  }
  if (status.ok() && prefault == Prefault::kYes) {
    status = PopulateWrite(map, size, path);
  }
  if (!status.ok()) {
    if (map != nullptr) munmap(map, size);
    unlink(path.c_str());
    return status;
  }
  EncodeHeader(header, absl::Span<char>(map, kHeaderSize));
  Segment segment(std::move(path), std::move(header), closer.Release(), map,
                  size);
  segment.writable_ = true;
  return segment;
}

absl::StatusOr<Segment> Segment::OpenReadOnly(std::string path, Verify verify) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError(errno, "open", path);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError(errno, "fstat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::DataLossError(absl::StrCat(path, " is not a regular file"));
  }
  char page[kHeaderSize];
  ASSIGN_OR_RETURN(const size_t got, ReadAt(fd, page, sizeof(page), 0, path));
  absl::StatusOr<SegmentHeader> header =
      DecodeHeader(absl::Span<const char>(page, got));
  if (!header.ok()) {
    return absl::DataLossError(absl::StrCat(path, ": ", header.status().message()));
  }
  if (header->state != SegmentState::kSealed) {
    return absl::DataLossError(absl::StrCat(path, ": segment is not sealed"));
  }
  const uint64_t expected_size = header->data_offset + header->data_length;
  if (static_cast<uint64_t>(st.st_size) != expected_size) {
    return absl::DataLossError(absl::StrFormat(
        "%s: file has %d bytes but its header describes %d", path,
        static_cast<int64_t>(st.st_size), expected_size));
  }
  if (verify == Verify::kChecksum) {
    ASSIGN_OR_RETURN(char* map, Map(fd, expected_size, PROT_READ, path));
    const SegmentData data(map, expected_size, header->data_offset);
    if (DataChecksum(data.data(), header->data_length, /*threads=*/1) !=
        header->data_checksum) {
      return absl::DataLossError(
          absl::StrCat(path, ": data does not match its checksum"));
    }
  }
  Segment segment(std::move(path), *std::move(header), /*fd=*/-1,
                  /*map=*/nullptr, expected_size);
  segment.BecomeSealed(st.st_dev, st.st_ino, /*map=*/nullptr);
  return segment;
}

uint64_t Segment::ComputeChecksum(int threads) const {
  return DataChecksum(map_ + header_.data_offset, header_.data_length, threads);
}

void Segment::BecomeSealed(dev_t device, ino_t inode, char* map) {
  device_ = device;
  inode_ = inode;
  mappings_ = std::make_unique<Mappings>();
  if (map == nullptr) return;
  // Unmapped at once unless kept.
  const auto data = std::make_shared<const SegmentData>(map, map_size_,
                                                        header_.data_offset);
  absl::MutexLock lock(&mappings_->mu);
  mappings_->KeepIfAllowed(data);
}

absl::StatusOr<std::shared_ptr<const SegmentData>> Segment::MapFile() const {
  const int fd = open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError(errno, "open", path_);
  FdCloser closer(fd);
  struct stat st;
  if (fstat(fd, &st) != 0) return PosixError(errno, "fstat", path_);
  if (st.st_dev != device_ || st.st_ino != inode_) {
    return absl::DataLossError(
        absl::StrCat(path_, " was replaced by another file"));
  }
  if (static_cast<size_t>(st.st_size) != map_size_) {
    return absl::DataLossError(absl::StrFormat(
        "%s: file has %d bytes but its header describes %d", path_,
        static_cast<int64_t>(st.st_size), map_size_));
  }
  ASSIGN_OR_RETURN(char* map, Map(fd, map_size_, PROT_READ, path_));
  return std::make_shared<const SegmentData>(map, map_size_, header_.data_offset);
}

absl::StatusOr<std::shared_ptr<const SegmentData>> Segment::MapData() const {
  if (mappings_ == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(path_, " is not sealed"));
  }
  absl::MutexLock lock(&mappings_->mu);
  if (mappings_->kept != nullptr) return mappings_->kept;
  if (std::shared_ptr<const SegmentData> held = mappings_->held.lock()) {
    return held;
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const SegmentData> data, MapFile());
  mappings_->KeepIfAllowed(data);
  return data;
}

absl::StatusOr<int> Segment::Reopen(int flags) const {
  const int fd = open(path_.c_str(), flags | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return PosixError(errno, "open", path_);
  struct stat mine, opened;
  if (fstat(fd_, &mine) != 0 || fstat(fd, &opened) != 0 ||
      mine.st_dev != opened.st_dev || mine.st_ino != opened.st_ino) {
    close(fd);
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " was replaced by another file"));
  }
  return fd;
}

absl::StatusOr<int> Segment::OpenForWriting() {
  if (!writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " is frozen or sealed"));
  }
  ASSIGN_OR_RETURN(const int fd, Reopen(O_RDWR));
  handed_out_ = true;
  return fd;
}

absl::Status Segment::Freeze() {
  if (writable_) RETURN_IF_ERROR(DropWriteAccess());
  if (writers_gone_) return absl::OkStatus();
  // A read lease is refused while anyone has the file open for writing
  // (a writable mapping included).
  if (fcntl(fd_, F_SETLEASE, F_RDLCK) != 0) {
    const int error = errno;
    if (error == EAGAIN) {
      return absl::FailedPreconditionError(absl::StrCat(
          path_, " is still open for writing in another process (a writer "
                 "must close its staging file before Commit); nothing "
                 "published"));
    }
    if (handed_out_) {
      // A descriptor went to another process and nothing can tell whether
      // it is closed: publishing could leave it a way to change the data.
      return absl::FailedPreconditionError(absl::StrCat(
          "cannot check that no other process still writes ", path_,
          " (file lease: ", std::strerror(error),
          "); nothing published. Puts that write the staging file need file "
          "leases on the shm directory (Linux: /proc/sys/fs/leases-enable "
          "and a filesystem that has them, such as tmpfs); streamed puts do "
          "not"));
    }
  } else {
    fcntl(fd_, F_SETLEASE, F_UNLCK);
  }
  writers_gone_ = true;
  return absl::OkStatus();
}

absl::Status Segment::DropWriteAccess() {
  struct stat st;
  if (fstat(fd_, &st) != 0) return PosixError(errno, "fstat", path_);
  // No new writers: only the owner (this process) may still open it so.
  if (fchmod(fd_, st.st_mode & 0755) != 0) return PosixError(errno, "fchmod", path_);
  ASSIGN_OR_RETURN(const int read_only, Reopen(O_RDONLY));
  void* map = mmap(nullptr, map_size_, PROT_READ, MAP_SHARED, read_only, 0);
  if (map == MAP_FAILED) {
    const int error = errno;
    close(read_only);
    return PosixError(error, "mmap read-only", path_);
  }
  munmap(map_, map_size_);
  map_ = static_cast<char*>(map);
  close(std::exchange(fd_, read_only));
  writable_ = false;
  return absl::OkStatus();
}

absl::Status Segment::Seal(const std::string& published_path,
                           uint64_t generation, uint64_t data_checksum,
                           mode_t mode) {
  if (sealed() || fd_ < 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": segment is already sealed"));
  }
  RETURN_IF_ERROR(Freeze());
  struct stat frozen;
  if (fstat(fd_, &frozen) != 0) return PosixError(errno, "fstat", path_);
  // The header goes through a file of our own; the mapping stays read-only.
  ASSIGN_OR_RETURN(const int writer, Reopen(O_WRONLY));
  FdCloser closer(writer);
  SegmentHeader sealed_header = header_;
  sealed_header.state = SegmentState::kSealed;
  sealed_header.generation = generation;
  sealed_header.data_checksum = data_checksum;
  absl::Status status = WriteHeader(writer, sealed_header, path_);
  if (status.ok() && fchmod(fd_, mode) != 0) {
    status = PosixError(errno, "fchmod", path_);
  } else if (status.ok()) {
    CrashPoint("after_seal_before_rename");
    if (renameat2(AT_FDCWD, path_.c_str(), AT_FDCWD, published_path.c_str(),
                  RENAME_NOREPLACE) != 0) {
      status = PosixError(errno, absl::StrCat("rename ", path_, " to"),
                          published_path);
    }
  }
  if (!status.ok()) {
    fchmod(fd_, frozen.st_mode & 07777);
    absl::Status restored = WriteHeader(writer, header_, path_);
    if (!restored.ok()) LogWarning("%s", restored.message());
    return status;
  }
  // The file is now published: from here on nothing may fail or write it.
  close(std::exchange(fd_, -1));
  path_ = published_path;
  header_ = std::move(sealed_header);
  BecomeSealed(frozen.st_dev, frozen.st_ino, std::exchange(map_, nullptr));
  return absl::OkStatus();
}

absl::Status Segment::CopyDataFrom(int fd, int64_t offset,
                                   const std::string& what, int threads) {
  if (!writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " is frozen or sealed"));
  }
  written_.checksum.reset();
  struct stat st;
  if (fstat(fd_, &st) != 0) return PosixError(errno, "fstat", path_);
  const FileRange source{fd, offset, what};
  const size_t size = static_cast<size_t>(header_.data_length);
  // tmpfs gives a file's blksize as its page size: a huge one says the
  // mapping's pages are huge, and reading straight into it is then the
  // cheaper copy (checksummed_copy.h).
  ASSIGN_OR_RETURN(
      const uint64_t checksum,
      st.st_blksize > sysconf(_SC_PAGESIZE)
          ? CopyIntoMappingWithChecksum(source, map_ + header_.data_offset,
                                        path_, size, threads)
          : CopyWithChecksum(
                source,
                FileRange{fd_, static_cast<int64_t>(header_.data_offset),
                          path_},
                size, threads));
  written_.checksum = checksum;
  return absl::OkStatus();
}

absl::Status Segment::AppendData(absl::string_view data) {
  if (!writable_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, " is frozen or sealed"));
  }
  if (data.size() > header_.data_length - written_.appended) {
    return absl::OutOfRangeError(absl::StrCat(
        "appending ", data.size(), " bytes after ", written_.appended,
        " would pass the end of the ", header_.data_length, " bytes of ",
        path_));
  }
  std::memcpy(map_ + header_.data_offset + written_.appended, data.data(),
              data.size());
  written_.appended += data.size();
  if (written_.unhashed) return absl::OkStatus();
  if (written_.appending == nullptr) {
    written_.appending = std::make_unique<DataChecksummer>();
  }
  written_.appending->Update(data.data(), data.size());
  if (written_.appended == header_.data_length) {
    written_.checksum = written_.appending->Digest();
  }
  return absl::OkStatus();
}

absl::Status Segment::CheckFileSize() const {
  if (fd_ < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path_, " has no staging file open whose size could be checked"));
  }
  struct stat st;
  if (fstat(fd_, &st) != 0) return PosixError(errno, "fstat", path_);
  if (static_cast<size_t>(st.st_size) != map_size_) {
    return absl::DataLossError(absl::StrFormat(
        "%s was resized to %d bytes while staging (expected %d); nothing "
        "published", path_, static_cast<int64_t>(st.st_size), map_size_));
  }
  // Pages removed from the middle (a punched hole) would be allocated again
  // on the next read, which faults when the filesystem is full.
  if (static_cast<size_t>(st.st_blocks) * 512 < map_size_) {
    return absl::DataLossError(absl::StrFormat(
        "%s had pages removed while staging; nothing published", path_));
  }
  return absl::OkStatus();
}

absl::Status Segment::Unlink() const {
  if (mappings_ != nullptr) {
    // Kept past the name, uncounted: it goes with the segment.
    absl::StatusOr<std::shared_ptr<const SegmentData>> data = MapData();
    if (data.ok()) {
      absl::MutexLock lock(&mappings_->mu);
      if (mappings_->kept == nullptr) mappings_->kept = *std::move(data);
    } else {
      LogWarning("%s: unlinked without a mapping, so what still holds it "
                 "cannot read it: %s", path_, data.status().message());
    }
  }
  if (unlink(path_.c_str()) != 0) return PosixError(errno, "unlink", path_);
  return absl::OkStatus();
}

}  // namespace matcache
