#include "server/core/cache/store.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "server/core/base/crash_point.h"
#include "server/core/base/logging.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/header.h"
#include "server/core/format/name.h"
#include "server/core/storage/atomic_file.h"
#include "server/core/storage/npy_file.h"
#include "server/core/storage/segment_file_name.h"
#include "server/core/storage/source_file.h"

namespace matcache {
namespace {

// The bytes the files of `segments` occupy: headers and data.
int64_t TotalBytes(const std::vector<Segment>& segments) {
  int64_t bytes = 0;
  for (const Segment& segment : segments) {
    bytes += static_cast<int64_t>(segment.header().data_offset +
                                  segment.header().data_length);
  }
  return bytes;
}

// The entries of `table` that belong to the recovered version of their name.
RetentionTable KeptRetention(const RetentionTable& table,
                             const std::vector<Segment>& segments) {
  RetentionTable kept;
  for (const Segment& segment : segments) {
    auto it = table.find(segment.header().name);
    if (it != table.end() && it->second.generation == segment.header().generation) {
      kept.insert(*it);
    }
  }
  return kept;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  RETURN_IF_ERROR(ValidateNamespace(options.name_space));
  ASSIGN_OR_RETURN(options.shm_dir, OpenStoreDirectory(options.shm_dir,
                                                       options.name_space,
                                                       options.group));
  ASSIGN_OR_RETURN(NamespaceLock lock,
                   NamespaceLock::Acquire(options.shm_dir, options.name_space,
                                          options.lock_wait));
  // The namespace's own files steer the store: they must be its own.
  const std::string prefix = absl::StrCat(options.shm_dir, "/", options.name_space);
  ASSIGN_OR_RETURN(const RetentionTable retention,
                   ReadRetentionTable(prefix + ".retention"));
  ASSIGN_OR_RETURN(const std::optional<std::string> sources,
                   ReadOwnFile(prefix + ".sources"));
  ASSIGN_OR_RETURN(RecoveredSegments recovered,
                   RecoverSegments(options.shm_dir, options.name_space,
                                   options.verify_on_recover
                                       ? Segment::Verify::kChecksum
                                       : Segment::Verify::kHeaderOnly));
  const RecoveryReport& report = recovered.report;
  LogInfo("store %s/%s.*: recovered %d matrices; removed %d staging, %d "
          "spare and %d superseded files; quarantined %d",
          options.shm_dir, options.name_space, report.adopted,
          report.staging_removed, report.spares_removed,
          report.superseded_removed, report.quarantined);
  return std::unique_ptr<Store>(new Store(std::move(options), std::move(lock),
                                          std::move(recovered), retention,
                                          sources.value_or("")));
}

Store::Store(StoreOptions options, NamespaceLock lock, RecoveredSegments recovered,
             const RetentionTable& retention, absl::string_view sources)
    : options_(std::move(options)),
      lock_(std::move(lock)),
      recovery_report_(recovered.report),
      next_number_(recovered.max_number + 1),
      budget_(options_.max_bytes, TotalBytes(recovered.segments)),
      retention_(PathOf(options_.name_space + ".retention"),
                 KeptRetention(retention, recovered.segments)),
      sources_(PathOf(options_.name_space + ".sources")),
      persister_(options_.persist_dir) {
  // Sources: those the recovered segments were loaded from, and those
  // registered but not loaded yet.
  Sources::Paths loaded_from;
  const absl::Time now = absl::Now();
  for (Segment& segment : recovered.segments) {
    GiveAccess(segment.path());
    if (!segment.header().source.empty()) {
      loaded_from[segment.header().name] = segment.header().source;
    }
    catalogue_.Restore(std::make_shared<const Segment>(std::move(segment)), now);
  }
  sources_.Restore(loaded_from, sources);
  for (const auto& [name, path] : sources_.paths()) {
    if (catalogue_.Contains(name)) continue;
    absl::StatusOr<MatrixInfo> info = DescribeSource(SourceRoots(), name, path);
    if (!info.ok()) {
      LogWarning("source of \"%s\": %s", name, info.status().message());
      continue;
    }
    sources_.SetUnread(name, *std::move(info));
  }
  SparePool::Options spare;
  spare.max_bytes = options_.spare_bytes;
  spare.idle = options_.spare_idle;
  spare.dir = options_.shm_dir;
  spare.new_path = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return PathOf(SpareFileName(options_.name_space, next_number_++));
  };
  spare.writes_in_flight = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return staging_.count() > 0;
  };
  spare_ = std::make_unique<SparePool>(std::move(spare), &mu_, &budget_);
}

Store::~Store() {
  spare_.reset();  // stops its thread and removes the spare
  absl::MutexLock lock(&mu_);
  staging_.UnlinkAll();
}

void Store::GiveAccess(const std::string& path) const {
  if (options_.group.has_value() &&
      chown(path.c_str(), static_cast<uid_t>(-1), *options_.group) != 0) {
    LogWarning("%s", PosixError(errno, "chown", path).message());
  }
  if (chmod(path.c_str(), options_.published_mode) != 0) {
    LogWarning("%s", PosixError(errno, "chmod", path).message());
  }
}

int64_t Store::FileBytes(const Segment& segment) {
  return static_cast<int64_t>(segment.header().data_offset +
                              segment.header().data_length);
}

std::string Store::PathOf(const std::string& file_name) const {
  return absl::StrCat(options_.shm_dir, "/", file_name);
}

absl::StatusOr<StagingWrite> Store::BeginWrite(absl::string_view name,
                                               absl::Span<const int64_t> shape,
                                               DType dtype,
                                               Segment::Prefault prefault,
                                               absl::Time lease_deadline,
                                               Retention retention,
                                               std::optional<DType> original_dtype,
                                               absl::string_view source) {
  ASSIGN_OR_RETURN(SegmentHeader header,
                   MakeStagingHeader(name, shape, dtype, source));
  if (original_dtype.has_value()) header.original_dtype = *original_dtype;
  if (header.data_length > static_cast<uint64_t>(options_.max_matrix_bytes)) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "matrix \"%s\" needs %d bytes, over the per-matrix limit of %d bytes",
        name, header.data_length, options_.max_matrix_bytes));
  }
  const int64_t bytes = static_cast<int64_t>(header.data_offset + header.data_length);
  const int64_t data_bytes = static_cast<int64_t>(header.data_length);
  // Taken, and uncounted, before the budget is counted: its pages become
  // this write's.
  std::unique_ptr<SpareFile> spare;
  uint64_t sequence;
  bool evicted_any;
  {
    std::vector<std::shared_ptr<const Segment>> evicted;  // freed unlocked
    absl::MutexLock lock(&mu_);
    spare = spare_->Take(bytes);
    absl::Status reserved = ReserveLocked(name, bytes, &evicted);
    if (!reserved.ok()) {
      // Back for the next write: this one does not fit even without it.
      spare_->GiveBack(std::move(spare));
      return reserved;
    }
    WriteRetentionLocked();  // evictions forget pins
    sequence = next_number_++;
    staging_.BeginCreating(data_bytes);
    evicted_any = !evicted.empty();
  }
  if (evicted_any) NotifyListeners();
  // Not the segment's id (readable in the file): a token of its own.
  const std::string write_id = SegmentId::Random().ToHex();
  constexpr mode_t mode = 0600;
  absl::StatusOr<Segment> created =
      CreateStagingFile(header, mode, prefault, sequence, std::move(spare));
  if (absl::IsResourceExhausted(created.status()) && options_.spare_bytes > 0) {
    // The filesystem is full, perhaps only because of the spare (even one
    // removed meanwhile): try again without it.
    {
      absl::MutexLock lock(&mu_);
      spare_->Drop(/*keep_none=*/true);
    }
    created = CreateStagingFile(header, mode, prefault, sequence, nullptr);
  }
  if (created.ok()) CrashPoint("after_staging_create");
  std::shared_ptr<Segment> segment =
      created.ok() ? std::make_shared<Segment>(*std::move(created)) : nullptr;
  absl::MutexLock lock(&mu_);
  // From counted as being created to counted as staging in one step, so
  // that Stats never misses a staging file that exists.
  staging_.FinishCreating(data_bytes, write_id, segment, lease_deadline, retention);
  if (segment == nullptr) {
    budget_.Release(bytes);
    return created.status();
  }
  return StagingWrite{write_id, std::move(segment)};
}

absl::StatusOr<Segment> Store::CreateStagingFile(const SegmentHeader& header,
                                                 mode_t mode,
                                                 Segment::Prefault prefault,
                                                 uint64_t sequence,
                                                 std::unique_ptr<SpareFile> spare) {
  const std::string path =
      PathOf(StagingFileName(options_.name_space, header.name, sequence));
  if (spare != nullptr) {
    absl::StatusOr<Segment> created = Segment::CreateFromSpare(
        *spare, path, header, mode, prefault, options_.group);
    if (created.ok() || spare->size() == 0) return created;
    // Not moved (removed by hand?): the spare is only a head start.
    LogWarning("%s; preallocating anew", created.status().message());
  }
  return Segment::Create(path, header, mode, prefault, options_.group);
}

absl::Status Store::ReserveLocked(
    absl::string_view name, int64_t bytes,
    std::vector<std::shared_ptr<const Segment>>* evicted) {
  if (!budget_.Fits(bytes)) spare_->Drop(/*keep_none=*/false);  // holds no data
  if (budget_.Fits(bytes)) {
    budget_.Charge(bytes);
    return absl::OkStatus();
  }
  std::vector<EvictionCandidate> candidates;
  for (const auto& [key, segment] : catalogue_.versions()) {
    // Never the version being replaced: should this write fail, the name
    // would be lost for nothing.
    if (key == name || retention_.Get(key).pinned ||
        !(options_.evict_unsourced || sources_.Contains(key))) {
      continue;
    }
    candidates.push_back({key, FileBytes(*segment), catalogue_.last_access(key)});
  }
  absl::StatusOr<std::vector<std::string>> victims =
      budget_.ChooseVictims(bytes, std::move(candidates));
  if (!victims.ok()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "matrix \"", name, "\" ", victims.status().message(),
        options_.evict_unsourced ? "" : " (--evict_unsourced is off: only "
                                        "matrices with a source are evicted)"));
  }
  for (const std::string& victim : *victims) {
    const std::shared_ptr<const Segment> segment = catalogue_.Find(victim);
    LogInfo("evicting \"%s\" (%d bytes) to make room for \"%s\"", victim,
            FileBytes(*segment), name);
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("evict: %s", unlinked.message());
    if (sources_.Contains(victim)) {
      sources_.SetUnread(victim, DescribeLocked(victim, *segment));
    }
    RemoveLocked(victim, ChangeReason::kEviction, evicted);
  }
  budget_.Charge(bytes);
  return absl::OkStatus();
}

absl::StatusOr<int> Store::OpenStagingForClient(absl::string_view write_id,
                                                uid_t uid) {
  absl::MutexLock lock(&mu_);
  return staging_.HandOut(write_id, uid);
}

absl::StatusOr<MatrixInfo> Store::Commit(
    absl::string_view write_id, std::shared_ptr<const Segment>* replaced) {
  std::shared_ptr<const Segment> previous;
  std::shared_ptr<Segment> published;
  absl::StatusOr<MatrixInfo> info = Publish(write_id, &published, &previous);
  if (published != nullptr) NotifyListeners();
  if (replaced != nullptr) *replaced = std::move(previous);
  // Otherwise the previous generation's pages are freed here, unlocked.
  return info;
}

absl::StatusOr<MatrixInfo> Store::Publish(
    absl::string_view write_id, std::shared_ptr<Segment>* published,
    std::shared_ptr<const Segment>* previous) {
  std::shared_ptr<Segment> segment;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(segment, staging_.StartCommit(write_id));
  }
  // No writer may change the data once it is hashed; and a writer that
  // shrank the file would make hashing fault: refuse both first.
  absl::Status intact = segment->Freeze();
  if (intact.ok()) intact = segment->CheckFileSize();
  if (!intact.ok()) {
    absl::MutexLock lock(&mu_);
    staging_.FinishCommit(write_id);
    budget_.Release(FileBytes(*segment));
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("%s", unlinked.message());
    return intact;
  }
  // Hashing reads all the data: do it before taking the lock, and only if
  // the writer did not hash it as it wrote.
  const std::optional<uint64_t> written = segment->written_checksum();
  const uint64_t checksum = written.has_value()
                                ? *written
                                : segment->ComputeChecksum(options_.checksum_threads);

  absl::MutexLock lock(&mu_);
  Retention retention = staging_.FinishCommit(write_id);
  const std::string name = segment->header().name;
  const uint64_t generation = next_number_++;
  const absl::Status sealed = segment->Seal(
      PathOf(PublishedFileName(options_.name_space, name, generation)),
      generation, checksum, options_.published_mode);
  if (!sealed.ok()) {
    budget_.Release(FileBytes(*segment));
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("%s", unlinked.message());
    return sealed;
  }
  // The new generation is in place; only now drop the old one's name.
  CrashPoint("after_rename_before_unlink");
  if (const std::shared_ptr<const Segment> current = catalogue_.Find(name)) {
    absl::Status unlinked = current->Unlink();
    if (!unlinked.ok()) LogWarning("replace: %s", unlinked.message());
    budget_.Release(FileBytes(*current));
  }
  retention.generation = generation;
  retention_.Set(name, retention);
  sources_.Set(name, segment->header().source);
  WriteRetentionLocked();
  const ChangeReason reason = segment->header().source.empty()
                                  ? ChangeReason::kPut
                                  : ChangeReason::kLoad;
  // Described before the catalogue has it: last accessed as it publishes.
  MatrixInfo info = DescribeLocked(name, *segment);
  info.last_access = absl::Now();
  *previous = catalogue_.Publish(segment, reason, info);
  *published = segment;
  return info;
}

absl::Status Store::Abort(absl::string_view write_id) {
  std::shared_ptr<Segment> segment;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(segment, staging_.Remove(write_id));
    budget_.Release(FileBytes(*segment));
  }
  return segment->Unlink();
}

absl::Status Store::RenewLease(absl::string_view write_id,
                              absl::Time lease_deadline) {
  absl::MutexLock lock(&mu_);
  return staging_.Renew(write_id, lease_deadline);
}

int Store::AbortExpired(absl::Time now) {
  std::vector<std::shared_ptr<Segment>> expired;
  {
    absl::MutexLock lock(&mu_);
    expired = staging_.TakeExpired(now);
    for (const std::shared_ptr<Segment>& segment : expired) {
      budget_.Release(FileBytes(*segment));
    }
  }
  for (const std::shared_ptr<Segment>& segment : expired) {
    LogInfo("lease expired: removing %s", segment->path());
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("%s", unlinked.message());
  }
  return static_cast<int>(expired.size());
}

}  // namespace matcache
