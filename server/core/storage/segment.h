// Segment: RAII owner of one segment file in the shm directory and of its
// memory mappings.
//
// A segment is either staging (created here, mapped read-write, not yet
// visible under a published name) or sealed (read-only from then on). A
// sealed segment is never written, truncated or shrunk again. A staging
// segment holds its mapping; a sealed one is mapped when its data is first
// asked for (MapData), so that a process can hold more sealed segments than
// it may have mappings (vm.max_map_count, 65530 by default). Unlinking the
// file leaves every mapping valid (tmpfs frees the pages at the last unmap).
//
// Not thread-safe for mutation (Seal); MapData, Unlink and header() may be
// called concurrently once no thread mutates.
#ifndef MATCACHE_SERVER_CORE_STORAGE_SEGMENT_H_
#define MATCACHE_SERVER_CORE_STORAGE_SEGMENT_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/format/checksum.h"
#include "server/core/format/header.h"
#include "server/core/storage/spare_file.h"

namespace matcache {

// A read-only mapping of a sealed segment's file: its data stays valid while
// this is held.
class SegmentData {
 public:
  // Takes over the mapping [map, map + map_size).
  SegmentData(char* map, size_t map_size, uint64_t data_offset)
      : map_(map), map_size_(map_size), data_offset_(data_offset) {}
  ~SegmentData();

  SegmentData(const SegmentData&) = delete;
  SegmentData& operator=(const SegmentData&) = delete;

  // header().data_length bytes of the segment's data.
  const char* data() const { return map_ + data_offset_; }

 private:
  char* const map_;
  const size_t map_size_;
  const uint64_t data_offset_;
};

class Segment {
 public:
  enum class Prefault { kNo, kYes };
  enum class Verify { kHeaderOnly, kChecksum };

  // Creates the staging file `path` with O_EXCL, group `group` (if given)
  // and exactly `mode` (the umask does not apply), preallocates header plus
  // data with posix_fallocate, maps it read-write (prefaulting every page if
  // `prefault` is kYes) and writes `header`, which must be a staging header.
  // Errors: ALREADY_EXISTS if `path` exists; RESOURCE_EXHAUSTED if the
  // filesystem lacks the space. On error no file is left behind.
  static absl::StatusOr<Segment> Create(
      std::string path, SegmentHeader header, mode_t mode, Prefault prefault,
      std::optional<gid_t> group = std::nullopt);

  // Create, on the pages of `spare` instead of a new file: renames it to
  // `path`, then shrinks it or preallocates the rest to header plus data.
  // If the rename fails (ALREADY_EXISTS if `path` exists) `spare` stays as
  // it was; once renamed it is used up, and on a later error its file is
  // removed.
  static absl::StatusOr<Segment> CreateFromSpare(
      SpareFile& spare, std::string path, SegmentHeader header, mode_t mode,
      Prefault prefault, std::optional<gid_t> group = std::nullopt);

  // Opens the sealed segment `path` read-only (never following a symlink)
  // and maps it PROT_READ. The mapping is made only after the file size is
  // checked against the header, so reading it can never fault.
  // Errors: NOT_FOUND; DATA_LOSS if the header is corrupt, the segment is not
  // sealed, the file size differs from what the header says, or (with
  // Verify::kChecksum) the data does not match its checksum.
  static absl::StatusOr<Segment> OpenReadOnly(std::string path, Verify verify);

  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&& other) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();

  const std::string& path() const { return path_; }
  const SegmentHeader& header() const { return header_; }
  bool sealed() const { return header_.state == SegmentState::kSealed; }

  // Sealed segments a process keeps mapped once their data was asked for;
  // the mappings of those beyond last only while they are held.
  static constexpr int64_t kMaxKeptMappings = 16384;

  // The data of a sealed segment, mapped on first use (the file is checked
  // to be the one sealed, of the size its header says, so reading it can
  // never fault) and kept mapped while the segment lives, unless
  // kMaxKeptMappings segments are so already. Errors: FAILED_PRECONDITION
  // for a staging segment; NOT_FOUND if the file is gone; DATA_LOSS if it
  // was replaced or resized; RESOURCE_EXHAUSTED if the process may map no
  // more.
  absl::StatusOr<std::shared_ptr<const SegmentData>> MapData() const;

  // Writable data of a staging segment; nullptr once frozen or sealed.
  // Forgets a checksum CopyDataFrom recorded: the caller may change the data.
  char* mutable_data() {
    written_.checksum.reset();
    written_.unhashed = true;
    return writable_ ? map_ + header_.data_offset : nullptr;
  }

  // Copies `data` into a staging segment's data right after what earlier
  // calls appended, hashing it on the way; once the data is complete its
  // checksum is recorded (written_checksum), unless mutable_data was asked
  // for meanwhile. FAILED_PRECONDITION once frozen or sealed;
  // OUT_OF_RANGE, writing nothing, if `data` would go past the end.
  absl::Status AppendData(absl::string_view data);

  // Fills all the data of a staging segment with the bytes of the file `fd`
  // from `offset` (on up to `threads` threads: straight into the mapping
  // where its pages are huge, else CopyWithChecksum) and records their
  // checksum (written_checksum). INVALID_ARGUMENT if the file ends early;
  // `what` names it in messages.
  absl::Status CopyDataFrom(int fd, int64_t offset, const std::string& what,
                            int threads);

  // DataChecksum of the data as CopyDataFrom or AppendData wrote it, so
  // that publishing need not read the data again; nullopt if the data may
  // have changed since (mutable_data was asked for, or a descriptor was
  // handed out).
  std::optional<uint64_t> written_checksum() const {
    return handed_out_ ? std::nullopt : written_.checksum;
  }

  // DataChecksum of a staging segment's data as it is now, on up to
  // `threads` threads.
  uint64_t ComputeChecksum(int threads = 1) const;

  // A new file description of a staging segment's file, open for reading
  // and writing (close-on-exec), for a writer in another process; the
  // caller owns it. Not a dup of this segment's own descriptor, so that
  // Freeze sees it as another writer for as long as any copy of it is open.
  // FAILED_PRECONDITION once frozen or sealed, or if the path now names
  // another file.
  absl::StatusOr<int> OpenForWriting();

  // Ends the writing of a staging segment, so that its data can no longer
  // change: takes write permission from everyone but the owner, swaps this
  // process's writable mapping for a read-only one (data() moves), and
  // checks with a file lease that no other process still has the file open
  // or mapped for writing (FAILED_PRECONDITION if one does; the check runs
  // again on the next call). Once OpenForWriting has handed out a
  // descriptor, a check that cannot run (no file leases on this filesystem,
  // or not allowed) refuses too, with FAILED_PRECONDITION saying why; until
  // then no other process can have a descriptor of the file (mode 0600) and
  // the lease only confirms it.
  absl::Status Freeze();

  // Publishes a staging segment: freezes it (if not yet), writes the sealed
  // header with `generation` and `data_checksum`, sets the file mode to
  // `mode` and renames the file to `published_path` (failing with
  // ALREADY_EXISTS rather than replacing a file). On error the segment stays
  // staging (frozen) under its old path.
  absl::Status Seal(const std::string& published_path, uint64_t generation,
                    uint64_t data_checksum, mode_t mode);

  // DATA_LOSS if the staging file no longer has the size of header plus
  // data, or lacks pages (a writer truncated it or punched a hole): reading
  // the missing part would fault. A check that cannot run refuses too:
  // FAILED_PRECONDITION for a segment with no file open (sealed, or opened
  // read-only), or fstat's error.
  absl::Status CheckFileSize() const;

  // Removes the file's name from the directory. A sealed segment is mapped
  // first (if it is not), so that its holders can still read it.
  absl::Status Unlink() const;

 private:
  Segment(std::string path, SegmentHeader header, int fd, char* map,
          size_t map_size);
  // Create's work on the new file `fd` (taken over), of which `allocated`
  // bytes are preallocated already.
  static absl::StatusOr<Segment> Prepare(int fd, int64_t allocated,
                                         std::string path, SegmentHeader header,
                                         mode_t mode, Prefault prefault,
                                         std::optional<gid_t> group);
  void Release();
  // Opens the segment's file again, by path, with `flags`; FAILED_PRECONDITION
  // if the path now names another file.
  absl::StatusOr<int> Reopen(int flags) const;
  // Freeze's first part: no new writers, no writable mapping or file here.
  absl::Status DropWriteAccess();
  // A sealed segment's file mapped anew.
  absl::StatusOr<std::shared_ptr<const SegmentData>> MapFile() const;
  // Makes the segment, whose header is sealed now and whose file is
  // `device`:`inode`, keep `map` (its read-only mapping, taken over, or
  // null) if it may.
  void BecomeSealed(dev_t device, ino_t inode, char* map);

  std::string path_;
  SegmentHeader header_;
  int fd_ = -1;  // open only while staging
  char* map_ = nullptr;  // only while staging
  size_t map_size_ = 0;
  // Of a sealed segment: the file's identity, and its mappings.
  dev_t device_ = 0;
  ino_t inode_ = 0;
  struct Mappings;
  std::unique_ptr<Mappings> mappings_;
  bool writable_ = false;  // fd_ and map_ may write: staging, not frozen
  bool writers_gone_ = false;  // Freeze found no other writer
  bool handed_out_ = false;    // OpenForWriting gave a descriptor away
  // What this process wrote into the data of a staging segment.
  struct Written {
    std::optional<uint64_t> checksum;  // see written_checksum()
    uint64_t appended = 0;             // bytes AppendData copied
    std::unique_ptr<DataChecksummer> appending;  // made by the first append
    bool unhashed = false;  // mutable_data was asked for: appends go unhashed
  };
  Written written_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_STORAGE_SEGMENT_H_
