// Store: the catalogue of published matrices (name -> current generation)
// and the owner of their segment files in one shm directory and namespace.
//
// Writes go through a staging segment: BeginWrite creates it, the caller
// fills its data (through StagingWrite::segment, or, in a client process,
// through the descriptor OpenStagingForClient hands out), and Commit
// publishes it atomically (seal, rename, switch the catalogue,
// then unlink the previous generation's name). Readers that hold a segment
// keep valid pages after a replace or delete.
//
// The store is the one facade over its parts, each a class of its own:
// Catalogue (published versions, lookups, the changes listeners follow),
// Budget (bytes and the choice of eviction victims), StagingTable (writes
// and their leases), RetentionBook (pins and expiry), Sources (.npy
// sources and single-flight loading), Persister (the persist directory)
// and SparePool (the spare file and its thread).
//
// Thread-safe. One mutex, mu_, guards every part; SparePool and Sources
// wait on it (the spare thread releases it while it touches a file). No
// part takes a lock of its own, so there is no lock order to keep; the
// catalogue's listeners are called with mu_ released. Segment files are
// created, hashed and written outside mu_.
//
// Only one Store may own a namespace of a directory at a time: Open takes
// an exclusive lock file and fails if another process holds it.
#ifndef MATCACHE_SERVER_CORE_CACHE_STORE_H_
#define MATCACHE_SERVER_CORE_CACHE_STORE_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/core/cache/budget.h"
#include "server/core/cache/catalogue.h"
#include "server/core/cache/matrix_info.h"
#include "server/core/cache/persister.h"
#include "server/core/cache/retention.h"
#include "server/core/cache/sources.h"
#include "server/core/cache/spare_pool.h"
#include "server/core/cache/staging_table.h"
#include "matcache/dtype.h"
#include "server/core/storage/recovery.h"
#include "server/core/storage/segment.h"
#include "server/core/storage/spare_file.h"
#include "server/core/storage/store_dir.h"

namespace matcache {

struct StoreOptions {
  // Directory holding the segment files; normally a tmpfs.
  std::string shm_dir = "/dev/shm";
  // Prefix of every file name; 1-16 characters of [A-Za-z0-9_-].
  std::string name_space = "matcache";
  // Mode of published segments, applied exactly (the umask does not narrow
  // or widen it). Staging segments are always 0600: a client writes one
  // through the descriptor OpenStagingForClient hands out, never by path.
  mode_t published_mode = 0400;
  // Group given to every segment file; nullopt: the process's own.
  std::optional<gid_t> group;
  // Largest data size of one matrix, in bytes.
  int64_t max_matrix_bytes = int64_t{64} << 30;
  // Budget for all segment files (published and staging, headers included);
  // 0 means no budget. Never exceeded, not even transiently.
  int64_t max_bytes = 0;
  // Whether a write that does not fit may evict the least recently used
  // published matrices. Off: a cache that silently drops data it cannot
  // reload surprises people.
  bool evict_unsourced = false;
  // Re-hash every segment's data during recovery (reads everything).
  bool verify_on_recover = false;
  // Threads that hash a matrix's data at Commit, and that copy (and hash)
  // the data of a Load.
  int checksum_threads = 2;
  // Largest spare file (see SpareFile) kept ready for the next write: once
  // a write is over and no other is under way, a background thread
  // preallocates a spare as large as that write, up to this size, so that
  // the next write finds its pages allocated. A spare is made only if the
  // budget and the filesystem have room for it and for a write of its size
  // besides; it is counted in the budget and dropped first when a write
  // needs the room. 0: no spare.
  int64_t spare_bytes = 0;
  // A ready spare is removed once no write has begun for this long.
  absl::Duration spare_idle = absl::Minutes(1);
  // Canonical directory where Persist keeps a .npy copy of each matrix, so
  // that a reboot (which empties the tmpfs) loses nothing; empty: none.
  std::string persist_dir;
  // How long Open waits for another process (a server still exiting) to
  // release the namespace's lock before it fails.
  absl::Duration lock_wait = absl::ZeroDuration();
  // Canonical directories whose files may be sources (besides persist_dir);
  // every read of a source opens it beneath one of them (see SourceFile).
  std::vector<std::string> source_dirs;
};

// A staging segment being written. `segment` stays valid (mapped) for as
// long as the caller holds it, even if the write is aborted meanwhile.
struct StagingWrite {
  std::string write_id;              // names the write in Commit and Abort
  std::shared_ptr<Segment> segment;  // writable until committed
};

struct StoreStats {
  int64_t max_bytes = 0;   // the budget; 0 if none
  int64_t used_bytes = 0;  // segment files, published and staging
  int64_t peak_used_bytes = 0;  // the most used_bytes has been since Open
  int64_t evictions = 0;
  int64_t expirations = 0;  // matrices deleted when their TTL ran out
  int64_t loads = 0;        // matrices read from their .npy source
  int64_t hits = 0;        // lookups (Info, Read, Preview) that found a matrix
  int64_t misses = 0;      // lookups that did not
  int64_t matrix_count = 0;
  int64_t matrix_bytes = 0;
  // Writes begun and not yet committed or aborted, from the moment their
  // bytes are counted (before their file exists) until their file is gone.
  int64_t staging_count = 0;
  int64_t staging_bytes = 0;  // their data bytes
  int64_t spare_bytes = 0;  // the spare file, ready or being made
  // The spare is asked for, being made, replaced or removed; false once it
  // is ready or none is to be made.
  bool spare_pending = false;
  int64_t quarantined_count = 0;
  int64_t shm_dir_total_bytes = 0;
  int64_t shm_dir_free_bytes = 0;
};

// The published versions at one moment (see Store::Snapshot).
struct CatalogueSnapshot {
  std::vector<MatrixInfo> matrices;  // in name order
  // The last change they reflect (CatalogueChange::sequence); 0 if none.
  uint64_t sequence = 0;
};

class Store {
 public:
  // Opens the store: validates the options, locks the namespace, and
  // recovers the catalogue from the files (see RecoverSegments).
  // Errors: INVALID_ARGUMENT for a bad namespace; NOT_FOUND or
  // FAILED_PRECONDITION if shm_dir is missing or not a directory;
  // FAILED_PRECONDITION if another process owns the namespace (after
  // waiting lock_wait for it).
  static absl::StatusOr<std::unique_ptr<Store>> Open(StoreOptions options);

  // Removes every staging file still open, and the spare; published
  // matrices stay.
  ~Store();

  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Creates a staging segment for `name`. INVALID_ARGUMENT for a bad name or
  // shape; RESOURCE_EXHAUSTED if the matrix exceeds max_matrix_bytes, does
  // not fit the budget (after evicting what may be evicted; the message says
  // how many bytes were needed and how many could be freed), or the
  // filesystem lacks the space. `prefault` maps every page up front, for
  // writers that fill the segment through StagingWrite::segment. A write not
  // committed by `lease_deadline` is aborted by the next AbortExpired.
  // `retention` applies to the published matrix (replacing the previous
  // version's). `original_dtype`, if set, records the dtype the caller put
  // before converting it to the stored `dtype`. `source` names the file the
  // data comes from (see RegisterSource); a put without one replaces the
  // name's source. The staging file is mode 0600, this process's alone.
  absl::StatusOr<StagingWrite> BeginWrite(
      absl::string_view name, absl::Span<const int64_t> shape, DType dtype,
      Segment::Prefault prefault = Segment::Prefault::kNo,
      absl::Time lease_deadline = absl::InfiniteFuture(),
      Retention retention = {},
      std::optional<DType> original_dtype = std::nullopt,
      absl::string_view source = "");

  // Hands out the staging file of `write_id` to the client that fills it:
  // a new descriptor open for reading and writing (see
  // Segment::OpenForWriting), which the caller owns, recorded as given to
  // the user `uid`. Once per write: FAILED_PRECONDITION if handed out
  // before or being committed; NOT_FOUND if unknown (never begun,
  // committed, aborted or expired); INVALID_ARGUMENT if malformed. Commit
  // refuses while any copy of the descriptor is still open.
  absl::StatusOr<int> OpenStagingForClient(absl::string_view write_id,
                                           uid_t uid);

  // Makes the .npy file at `path` (canonical, see ResolveSourcePath) the
  // source of `name`: the matrix is read from it on first access
  // (EnsureLoaded) and again after an eviction; sourced matrices may always
  // be evicted (unless pinned). Kept across restarts. INVALID_ARGUMENT if
  // the file is malformed. Returns what the file holds, with generation 0
  // until it is loaded.
  absl::StatusOr<MatrixInfo> RegisterSource(absl::string_view name,
                                            const std::string& path);

  // Publishes `name` from its source unless it is published already;
  // concurrent calls read the file once. NOT_FOUND if `name` is neither
  // published nor sourced; the source's error if it cannot be read.
  absl::Status EnsureLoaded(absl::string_view name);

  // Publishes `name` from the .npy file `path` (canonical) now, replacing
  // the published version if any (its readers keep it, its pin and expiry
  // carry over), and makes `path` its source. On error nothing changes:
  // INVALID_ARGUMENT for a bad name or a malformed file, or the file's
  // read error.
  absl::Status LoadFrom(absl::string_view name, const std::string& path);

  // True if `name` has a source but is not published: EnsureLoaded would
  // read a file.
  bool NeedsLoad(absl::string_view name) const;

  // True if a version of `name` is published.
  bool Contains(absl::string_view name) const;

  // `listener` (not owned; it must outlive the store) is told, with the
  // store's lock released, of every version published or removed from now
  // on, with the reason: in the order of the changes, each after it is
  // visible to Info. The server persists what is put (kPut) from there.
  void AddListener(CatalogueListener* listener);

  // Writes `segment` to <persist_dir>/<name>.npy (aside, fsync, rename) if
  // it is still the current version of its name, with <name>.meta beside it
  // (pin, expiry, original dtype), and makes that file the matrix's source.
  // Does nothing without a persist_dir. Slow: call it off any
  // latency-sensitive path.
  absl::Status Persist(const std::shared_ptr<const Segment>& segment);

  // Registers every <persist_dir>/*.npy whose name is not published as a
  // source (after a reboot), and returns the published segments that have
  // no source, for the caller to Persist again.
  std::vector<std::shared_ptr<const Segment>> AdoptPersisted();

  // Freezes (Segment::Freeze), checksums, seals and publishes a staging
  // write as the newest generation of its name, then removes the previous
  // generation's file. The caller must have finished writing. NOT_FOUND if
  // `write_id` is unknown (never begun, committed, or aborted);
  // FAILED_PRECONDITION if it is being committed, or if another process
  // still has its file open for writing; DATA_LOSS if the file was resized
  // or had pages removed. After those last two the write is discarded.
  // If `replaced` is given, the previous generation's segment is moved there:
  // releasing the last reference frees its memory, which takes time for a
  // large matrix, and the caller may prefer to do it after replying.
  absl::StatusOr<MatrixInfo> Commit(
      absl::string_view write_id,
      std::shared_ptr<const Segment>* replaced = nullptr);

  // Discards a staging write and removes its file. NOT_FOUND if unknown;
  // FAILED_PRECONDITION if it is being committed.
  absl::Status Abort(absl::string_view write_id);

  // Moves the lease deadline of a staging write. NOT_FOUND if unknown (for
  // example already expired).
  absl::Status RenewLease(absl::string_view write_id, absl::Time lease_deadline);

  // Aborts every staging write whose lease deadline is before `now` (and is
  // not being committed); returns how many.
  int AbortExpired(absl::Time now);

  // Pins (never evicted) or unpins `name`; kept across restarts. NOT_FOUND
  // if there is no such matrix.
  absl::StatusOr<MatrixInfo> SetPinned(absl::string_view name, bool pinned);

  // Deletes every matrix whose retention expired before `now`; returns how
  // many.
  int DeleteExpired(absl::Time now);

  // The current version of `name`. NOT_FOUND if none; INVALID_ARGUMENT for
  // a malformed name.
  absl::StatusOr<MatrixInfo> Info(absl::string_view name) const;

  // Matrices whose names start with `prefix` and sort after `start_after`
  // (all if empty), in name order, at most `limit` of them: the published
  // ones, and those with a source that is not read yet (generation 0).
  std::vector<MatrixInfo> List(absl::string_view prefix,
                               absl::string_view start_after = "",
                               size_t limit = SIZE_MAX) const;

  // The published versions whose names start with `prefix` (not the
  // sources not read yet), in name order, and the sequence of the last
  // change they reflect, taken at once; not counted as lookups. A listener
  // added before the call is told of every change after that sequence (and
  // perhaps of some before it, which the snapshot reflects already).
  CatalogueSnapshot Snapshot(absl::string_view prefix) const;

  // Removes `name`. If `generation` is non-zero, only if it is the current
  // one (else FAILED_PRECONDITION). NOT_FOUND if there is no such matrix.
  absl::Status Delete(absl::string_view name, uint64_t generation = 0);

  // The current segment of `name`, kept mapped for as long as the caller
  // holds it, whatever happens to the name meanwhile. If `generation` is
  // non-zero and not the current one: FAILED_PRECONDITION.
  absl::StatusOr<std::shared_ptr<const Segment>> Acquire(
      absl::string_view name, uint64_t generation = 0) const;

  // The store's figures; as quick with 100,000 matrices as with 10.
  StoreStats Stats() const ABSL_LOCKS_EXCLUDED(mu_);
  const RecoveryReport& recovery_report() const { return recovery_report_; }
  const StoreOptions& options() const { return options_; }

 private:
  Store(StoreOptions options, NamespaceLock lock, RecoveredSegments recovered,
        const RetentionTable& retention, absl::string_view sources);
  // The bytes a segment's file occupies: header and data.
  static int64_t FileBytes(const Segment& segment);
  std::string PathOf(const std::string& file_name) const;
  // The directories sources are opened beneath.
  std::vector<std::string> SourceRoots() const;
  // Gives a recovered segment the current group and published mode (they
  // may differ from the run that made it).
  void GiveAccess(const std::string& path) const;
  // Reads the source `path` into a new generation of `name`.
  absl::Status LoadFromSource(absl::string_view name, const std::string& path);
  // Counts `bytes` more against the budget, first dropping the spare and
  // evicting least recently used matrices (into `evicted`, to be released
  // unlocked) if that is allowed and needed.
  absl::Status ReserveLocked(absl::string_view name, int64_t bytes,
                             std::vector<std::shared_ptr<const Segment>>* evicted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes the published `name` (whose file the caller unlinked) from the
  // catalogue, the budget and the retention book, handing its segment to
  // `removed`, to be released unlocked.
  void RemoveLocked(const std::string& name, ChangeReason reason,
                    std::vector<std::shared_ptr<const Segment>>* removed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  MatrixInfo DescribeLocked(const std::string& name, const Segment& segment) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes <persist_dir>/<name>.meta for the current version of `name`.
  absl::Status WriteMetaLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Rewrites the retention file if it changed, logging a failure.
  void WriteRetentionLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // BeginWrite's file: a staging segment for `header` named after
  // `sequence`, made from `spare` if given and it can be moved there (see
  // Segment::CreateFromSpare); a spare left over is removed.
  absl::StatusOr<Segment> CreateStagingFile(const SegmentHeader& header,
                                            mode_t mode,
                                            Segment::Prefault prefault,
                                            uint64_t sequence,
                                            std::unique_ptr<SpareFile> spare);
  // Commit's work: hands the published segment to `published` and the
  // replaced generation (if any) to `previous`.
  absl::StatusOr<MatrixInfo> Publish(absl::string_view write_id,
                                     std::shared_ptr<Segment>* published,
                                     std::shared_ptr<const Segment>* previous);
  // Delivers the catalogue's changes to its listeners; takes mu_, and
  // releases it while they run.
  void NotifyListeners() ABSL_LOCKS_EXCLUDED(mu_);

  const StoreOptions options_;
  const NamespaceLock lock_;
  const RecoveryReport recovery_report_;

  mutable absl::Mutex mu_;
  // Generations and file sequences: one counter that only grows.
  uint64_t next_number_ ABSL_GUARDED_BY(mu_);
  Catalogue catalogue_ ABSL_GUARDED_BY(mu_);
  Budget budget_ ABSL_GUARDED_BY(mu_);
  StagingTable staging_ ABSL_GUARDED_BY(mu_);
  RetentionBook retention_ ABSL_GUARDED_BY(mu_);
  Sources sources_ ABSL_GUARDED_BY(mu_);
  Persister persister_ ABSL_GUARDED_BY(mu_);
  // Guarded by mu_ within (see SparePool). Last: it stops first.
  std::unique_ptr<SparePool> spare_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_STORE_H_
