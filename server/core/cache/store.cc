#include "server/core/cache/store.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
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

absl::StatusOr<std::string> CanonicalDirectory(const std::string& dir) {
  char resolved[PATH_MAX];
  if (realpath(dir.c_str(), resolved) == nullptr) {
    return PosixError(errno, "shm_dir", dir);
  }
  struct stat st;
  if (stat(resolved, &st) != 0) return PosixError(errno, "stat", resolved);
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("shm_dir ", dir, " is not a directory"));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st.st_mode & S_ISVTX) == 0) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "shm_dir %s (mode %04o) lets other users rename or delete this "
        "server's segments; make it sticky (chmod +t, as /dev/shm is) or "
        "writable by its owner only",
        dir, st.st_mode & 07777));
  }
  return std::string(resolved);
}

// The directory the store keeps its files in: `dir` itself if only this
// process's user may create files there, else <dir>/<namespace>, created if
// missing, which must be a directory of this user that no other user may
// write; it gets mode 0700, or 0750 and `group`, so that nobody else can
// plant, squat or link a file among the store's.
absl::StatusOr<std::string> OwnDirectory(const std::string& dir,
                                         const std::string& name_space,
                                         std::optional<gid_t> group) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) return PosixError(errno, "stat", dir);
  if (st.st_uid == geteuid() && (st.st_mode & 0022) == 0) return dir;
  const std::string own = absl::StrCat(dir, "/", name_space);
  if (mkdir(own.c_str(), 0700) != 0 && errno != EEXIST) {
    return PosixError(errno, "mkdir", own);
  }
  const int fd = open(own.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0 && errno != ENOTDIR && errno != ELOOP) {
    return PosixError(errno, "open", own);
  }
  const bool ours = fd >= 0 && fstat(fd, &st) == 0 && st.st_uid == geteuid() &&
                    (st.st_mode & 0022) == 0;
  absl::Status access = absl::OkStatus();
  if (ours && group.has_value() &&
      fchown(fd, static_cast<uid_t>(-1), *group) != 0) {
    access = PosixError(errno, "chown", own);
  }
  if (ours && access.ok() && fchmod(fd, group.has_value() ? 0750 : 0700) != 0) {
    access = PosixError(errno, "chmod", own);
  }
  if (fd >= 0) close(fd);
  if (!ours) {
    return absl::FailedPreconditionError(absl::StrCat(
        own, " is not a directory of this server's user that only it may "
             "write (another user may have made it); remove it"));
  }
  RETURN_IF_ERROR(access);
  return own;
}

// Holds an exclusive flock on <dir>/<namespace>.lock so that two servers never
// recover (and so delete) each other's files; waits up to `wait` for another
// process to release it.
absl::StatusOr<int> LockNamespace(const std::string& dir,
                                  const std::string& name_space,
                                  absl::Duration wait) {
  const std::string path = absl::StrCat(dir, "/", name_space, ".lock");
  constexpr int kFlags = O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
  int fd = open(path.c_str(), kFlags | O_CREAT | O_EXCL, 0600);
  if (fd < 0 && errno == EEXIST) fd = open(path.c_str(), kFlags);
  if (fd < 0 && errno != ELOOP) return PosixError(errno, "open lock file", path);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
      st.st_uid != geteuid() || st.st_nlink != 1 || (st.st_mode & 0022) != 0) {
    if (fd >= 0) close(fd);
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a file of this server's user that only it may write "
              "(another user may have planted it); remove it"));
  }
  // A server that is still exiting holds the lock for a few seconds more.
  const absl::Time deadline = absl::Now() + wait;
  bool said = false;
  while (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK && absl::Now() < deadline) {
      if (!said) {
        LogInfo("namespace \"%s\" in %s is locked by another server; waiting "
                "up to %s for it to exit",
                name_space, dir, absl::FormatDuration(wait));
        said = true;
      }
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    close(fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another process owns namespace \"", name_space, "\" in ", dir,
          " (", path, " is locked", said ? absl::StrCat(
              " after waiting ", absl::FormatDuration(wait)) : "", ")"));
    }
    return PosixError(error, "flock", path);
  }
  return fd;
}

// INVALID_ARGUMENT for a source path the sources file cannot hold.
absl::Status CheckSourcePath(const std::string& path) {
  if (path.size() > kMaxSourceLength || path.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("source path has over ", kMaxSourceLength,
                     " characters or a line break"));
  }
  return absl::OkStatus();
}

absl::Status NoSuchWrite(absl::string_view write_id) {
  if (write_id.size() != 32 ||
      write_id.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "malformed lease: expected the 32 hex digits Create returned");
  }
  return absl::NotFoundError(absl::StrCat(
      "no staging write ", write_id, " (never begun, committed, aborted or expired)"));
}

// The bytes a segment occupies: header and data.
int64_t FileBytes(const Segment& segment) {
  return static_cast<int64_t>(segment.header().data_offset +
                              segment.header().data_length);
}

absl::Status NoSuchMatrix(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("no matrix named \"", name, "\""));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Store>> Store::Open(StoreOptions options) {
  RETURN_IF_ERROR(ValidateNamespace(options.name_space));
  ASSIGN_OR_RETURN(options.shm_dir, CanonicalDirectory(options.shm_dir));
  ASSIGN_OR_RETURN(options.shm_dir,
                   OwnDirectory(options.shm_dir, options.name_space, options.group));
  ASSIGN_OR_RETURN(int lock_fd, LockNamespace(options.shm_dir, options.name_space,
                                              options.lock_wait));
  // The namespace's own files steer the store: they must be its own.
  const std::string prefix = absl::StrCat(options.shm_dir, "/", options.name_space);
  absl::StatusOr<RetentionTable> retention =
      ReadRetentionTable(prefix + ".retention");
  absl::StatusOr<std::optional<std::string>> sources =
      ReadOwnFile(prefix + ".sources");
  for (const absl::Status& status : {retention.status(), sources.status()}) {
    if (!status.ok()) {
      close(lock_fd);
      return status;
    }
  }
  absl::StatusOr<RecoveredSegments> recovered = RecoverSegments(
      options.shm_dir, options.name_space,
      options.verify_on_recover ? Segment::Verify::kChecksum
                                : Segment::Verify::kHeaderOnly);
  if (!recovered.ok()) {
    close(lock_fd);
    return recovered.status();
  }
  const RecoveryReport& report = recovered->report;
  LogInfo("store %s/%s.*: recovered %d matrices; removed %d staging, %d "
          "spare and %d superseded files; quarantined %d",
          options.shm_dir, options.name_space, report.adopted,
          report.staging_removed, report.spares_removed,
          report.superseded_removed, report.quarantined);
  return std::unique_ptr<Store>(
      new Store(std::move(options), lock_fd, *std::move(recovered),
                *std::move(retention), sources->value_or("")));
}

Store::Store(StoreOptions options, int lock_fd, RecoveredSegments recovered,
             const RetentionTable& retention, absl::string_view sources)
    : options_(std::move(options)),
      retention_path_(absl::StrCat(options_.shm_dir, "/", options_.name_space,
                                   ".retention")),
      sources_path_(absl::StrCat(options_.shm_dir, "/", options_.name_space,
                                 ".sources")),
      lock_fd_(lock_fd),
      recovery_report_(recovered.report),
      next_number_(recovered.max_number + 1) {
  const absl::Time now = absl::Now();
  for (Segment& segment : recovered.segments) {
    GiveAccess(segment.path());
    std::string name = segment.header().name;
    used_bytes_ += FileBytes(segment);
    last_access_[name] = now;
    published_.emplace(std::move(name),
                       std::make_shared<const Segment>(std::move(segment)));
  }
  peak_used_bytes_ = used_bytes_;
  // Sources: those the recovered segments were loaded from, and those
  // registered but not loaded yet.
  for (const auto& [name, segment] : published_) {
    if (!segment->header().source.empty()) {
      sources_[name] = segment->header().source;
    }
  }
  for (absl::string_view line : absl::StrSplit(sources, '\n', absl::SkipEmpty())) {
    const size_t tab = line.find('\t');
    if (tab == absl::string_view::npos || !ValidateName(line.substr(0, tab)).ok()) {
      LogWarning("%s: skipping malformed line \"%s\"", sources_path_, line);
      continue;
    }
    sources_.emplace(line.substr(0, tab), line.substr(tab + 1));
  }
  for (const auto& [name, path] : sources_) {
    if (published_.count(name) > 0) continue;
    absl::StatusOr<SourceFile> file = OpenSource(path);
    absl::StatusOr<NpyHeader> header =
        file.ok() ? ReadNpyFileHeader(file->fd(), path)
                  : absl::StatusOr<NpyHeader>(file.status());
    if (!header.ok()) {
      LogWarning("source of \"%s\": %s", name, header.status().message());
      continue;
    }
    MatrixInfo& info = source_info_[name];
    info.shape = header->shape;
    info.dtype = header->dtype;
    info.original_dtype = header->dtype;
    info.nbytes = header->data_bytes;
  }
  // Retention of the matrices that came back; forget the rest.
  for (const auto& [name, kept] : retention) {
    auto it = published_.find(name);
    if (it != published_.end() &&
        it->second->header().generation == kept.generation) {
      retention_[name] = kept;
    }
  }
  if (options_.spare_bytes > 0) {
    spare_thread_ = std::thread(&Store::MaintainSpare, this);
  }
}

Store::~Store() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    spare_cancelled_.store(true);
  }
  if (spare_thread_.joinable()) spare_thread_.join();
  absl::MutexLock lock(&mu_);
  for (auto& [write_id, entry] : staging_) {
    absl::Status status = entry.segment->Unlink();
    if (!status.ok()) LogWarning("%s", status.message());
  }
  staging_.clear();
  close(lock_fd_);
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

absl::StatusOr<SourceFile> Store::OpenSource(const std::string& path) const {
  std::vector<std::string> roots = options_.source_dirs;
  roots.push_back(options_.persist_dir);
  return SourceFile::Open(roots, path);
}

void Store::ChargeLocked(int64_t bytes) {
  used_bytes_ += bytes;
  peak_used_bytes_ = std::max(peak_used_bytes_, used_bytes_);
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
  // Taken, and uncounted, before the budget is counted: its pages become
  // this write's.
  std::unique_ptr<SpareFile> spare;
  uint64_t sequence;
  {
    std::vector<std::shared_ptr<const Segment>> evicted;  // freed unlocked
    absl::MutexLock lock(&mu_);
    spare = TakeSpareLocked(bytes);
    absl::Status reserved = ReserveLocked(name, bytes, &evicted);
    if (!reserved.ok()) {
      // Back for the next write: this one does not fit even without it.
      if (spare != nullptr && spare_ == nullptr) {
        ChargeLocked(spare->size());
        spare_ = std::move(spare);
      }
      return reserved;
    }
    absl::Status persisted = PersistRetentionLocked();  // evictions forget pins
    if (!persisted.ok()) LogWarning("retention: %s", persisted.message());
    sequence = next_number_++;
    ++creating_.count;
    creating_.file_bytes += bytes;
    creating_.data_bytes += static_cast<int64_t>(header.data_length);
  }
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
      DropSpareLocked();
      spare_wanted_ = 0;
    }
    created = CreateStagingFile(header, mode, prefault, sequence, nullptr);
  }
  if (created.ok()) CrashPoint("after_staging_create");
  absl::MutexLock lock(&mu_);
  // From counted as being created to counted as staging in one step, so
  // that Stats never misses a staging file that exists.
  --creating_.count;
  creating_.file_bytes -= bytes;
  creating_.data_bytes -= static_cast<int64_t>(header.data_length);
  if (!created.ok()) {
    used_bytes_ -= bytes;
    return created.status();
  }
  auto shared = std::make_shared<Segment>(*std::move(created));
  staging_.emplace(write_id, StagingEntry{shared, lease_deadline, retention,
                                          /*committing=*/false,
                                          /*handed_to=*/std::nullopt});
  return StagingWrite{write_id, std::move(shared)};
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
  auto fits = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return options_.max_bytes <= 0 || used_bytes_ + bytes <= options_.max_bytes;
  };
  if (!fits()) DropSpareLocked();  // holds no data: it goes first
  if (fits()) {
    ChargeLocked(bytes);
    return absl::OkStatus();
  }
  // Never the version being replaced: should this write fail, the name
  // would be lost for nothing.
  auto is_evictable = [this, name](const std::string& key)
                          ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = retention_.find(key);
    return (options_.evict_unsourced || sources_.count(key) > 0) &&
           key != name && (it == retention_.end() || !it->second.pinned);
  };
  int64_t evictable = 0;
  for (const auto& [key, segment] : published_) {
    if (is_evictable(key)) evictable += FileBytes(*segment);
  }
  if (used_bytes_ - evictable + bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "matrix \"%s\" needs %d bytes; %d of the %d-byte budget are free and "
        "eviction could free %d more%s",
        name, bytes, std::max<int64_t>(0, options_.max_bytes - used_bytes_),
        options_.max_bytes, evictable,
        options_.evict_unsourced ? "" : " (--evict_unsourced is off: only "
                                        "matrices with a source are evicted)"));
  }
  while (used_bytes_ + bytes > options_.max_bytes) {
    auto victim = published_.end();
    for (auto it = published_.begin(); it != published_.end(); ++it) {
      if (is_evictable(it->first) &&
          (victim == published_.end() ||
           last_access_[it->first] < last_access_[victim->first])) {
        victim = it;
      }
    }
    LogInfo("evicting \"%s\" (%d bytes) to make room for \"%s\"",
            victim->first, FileBytes(*victim->second), name);
    absl::Status unlinked = victim->second->Unlink();
    if (!unlinked.ok()) LogWarning("evict: %s", unlinked.message());
    if (sources_.count(victim->first) > 0) {
      source_info_[victim->first] = DescribeLocked(victim->first, *victim->second);
    }
    ++evictions_;
    RemoveLocked(victim, evicted);
  }
  ChargeLocked(bytes);
  return absl::OkStatus();
}

void Store::RemoveLocked(
    std::map<std::string, std::shared_ptr<const Segment>, std::less<>>::iterator it,
    std::vector<std::shared_ptr<const Segment>>* removed) {
  used_bytes_ -= FileBytes(*it->second);
  last_access_.erase(it->first);
  SetRetentionLocked(it->first, Retention());
  removed->push_back(std::move(it->second));
  published_.erase(it);
}

void Store::SetRetentionLocked(const std::string& name, Retention retention) {
  auto it = retention_.find(name);
  const Retention old = it == retention_.end() ? Retention() : it->second;
  if (old.pinned == retention.pinned && old.expires == retention.expires &&
      old.generation == retention.generation) {
    return;
  }
  if (retention.is_default()) {
    if (it == retention_.end()) return;
    retention_.erase(it);
  } else {
    retention_[name] = retention;
  }
  retention_dirty_ = true;
}

absl::Status Store::PersistRetentionLocked() {
  if (!retention_dirty_) return absl::OkStatus();
  absl::Status written = WriteRetentionTable(retention_path_, retention_);
  if (written.ok()) retention_dirty_ = false;
  return written;
}

MatrixInfo Store::DescribeLocked(const std::string& name,
                                 const Segment& segment) const {
  MatrixInfo info = DescribeSegment(segment);
  auto access = last_access_.find(name);
  if (access != last_access_.end()) info.last_access = access->second;
  auto source = sources_.find(name);
  if (source != sources_.end()) info.source = source->second;
  auto retention = retention_.find(name);
  if (retention != retention_.end()) {
    info.pinned = retention->second.pinned;
    info.expires = retention->second.expires;
  }
  return info;
}

absl::StatusOr<MatrixInfo> Store::SetPinned(absl::string_view name, bool pinned) {
  RETURN_IF_ERROR(ValidateName(name));
  absl::MutexLock lock(&mu_);
  auto it = published_.find(name);
  if (it == published_.end()) return NoSuchMatrix(name);
  auto current = retention_.find(it->first);
  const Retention before =
      current == retention_.end() ? Retention() : current->second;
  Retention retention = before;
  retention.pinned = pinned;
  retention.generation = it->second->header().generation;
  SetRetentionLocked(it->first, retention);
  absl::Status persisted = PersistRetentionLocked();
  if (!persisted.ok()) {
    // Not kept across a restart, so not done at all.
    SetRetentionLocked(it->first, before);
    retention_dirty_ = false;
    return persisted;
  }
  if (persisted_meta_.count(it->first) > 0) {
    absl::Status meta = WriteMetaLocked(it->first);
    if (!meta.ok()) LogWarning("persist: %s", meta.message());
  }
  return DescribeLocked(it->first, *it->second);
}

int Store::DeleteExpired(absl::Time now) {
  std::vector<std::shared_ptr<const Segment>> removed;  // freed unlocked
  absl::MutexLock lock(&mu_);
  std::vector<std::string> expired;
  for (const auto& [name, retention] : retention_) {
    if (retention.expires < now) expired.push_back(name);
  }
  for (const std::string& name : expired) {
    auto it = published_.find(name);
    if (it == published_.end()) continue;
    LogInfo("\"%s\" expired; deleting it", name);
    absl::Status unlinked = it->second->Unlink();
    if (!unlinked.ok()) LogWarning("expire: %s", unlinked.message());
    ++expirations_;
    RemovePersistedLocked(it->first);
    SetSourceLocked(it->first, "");
    RemoveLocked(it, &removed);
  }
  absl::Status persisted = PersistRetentionLocked();
  if (!persisted.ok()) LogWarning("retention: %s", persisted.message());
  return static_cast<int>(removed.size());
}

absl::StatusOr<int> Store::OpenStagingForClient(absl::string_view write_id,
                                                uid_t uid) {
  absl::MutexLock lock(&mu_);
  auto it = staging_.find(write_id);
  if (it == staging_.end()) return NoSuchWrite(write_id);
  StagingEntry& entry = it->second;
  if (entry.committing) {
    return absl::FailedPreconditionError(absl::StrCat(
        "staging write ", write_id, " is being committed; its file is no "
        "longer handed out"));
  }
  if (entry.handed_to.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the staging file of lease ", write_id, " was handed out already (to "
        "uid ", *entry.handed_to, "); each lease's file is handed out once"));
  }
  // Under the lock: Commit cannot begin freezing the file meanwhile.
  ASSIGN_OR_RETURN(const int fd, entry.segment->OpenForWriting());
  entry.handed_to = uid;
  return fd;
}

absl::StatusOr<std::shared_ptr<Segment>> Store::TakeForCommit(
    absl::string_view write_id) {
  absl::MutexLock lock(&mu_);
  auto it = staging_.find(write_id);
  if (it == staging_.end()) return NoSuchWrite(write_id);
  if (it->second.committing) {
    return absl::FailedPreconditionError(
        absl::StrCat("staging write ", write_id, " is already being committed"));
  }
  it->second.committing = true;
  return it->second.segment;
}

absl::StatusOr<MatrixInfo> Store::Commit(
    absl::string_view write_id, std::shared_ptr<const Segment>* replaced) {
  std::shared_ptr<const Segment> previous;
  std::shared_ptr<Segment> published;
  absl::StatusOr<MatrixInfo> info = Publish(write_id, &published, &previous);
  if (published != nullptr && published->header().source.empty()) {
    std::function<void(std::shared_ptr<const Segment>)> listener;
    {
      absl::MutexLock lock(&mu_);
      listener = publish_listener_;
    }
    if (listener) listener(published);
  }
  if (replaced != nullptr) *replaced = std::move(previous);
  // Otherwise the previous generation's pages are freed here, unlocked.
  return info;
}

absl::StatusOr<MatrixInfo> Store::Publish(
    absl::string_view write_id, std::shared_ptr<Segment>* published,
    std::shared_ptr<const Segment>* previous) {
  ASSIGN_OR_RETURN(std::shared_ptr<Segment> segment, TakeForCommit(write_id));
  // No writer may change the data once it is hashed; and a writer that
  // shrank the file would make hashing fault: refuse both first.
  absl::Status intact = segment->Freeze();
  if (intact.ok()) intact = segment->CheckFileSize();
  if (!intact.ok()) {
    absl::MutexLock lock(&mu_);
    staging_.erase(std::string(write_id));
    used_bytes_ -= FileBytes(*segment);
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("%s", unlinked.message());
    return intact;
  }
  // Hashing reads all the data: do it before taking the lock.
  const uint64_t checksum = segment->ComputeChecksum(options_.checksum_threads);

  absl::MutexLock lock(&mu_);
  Retention retention;
  if (auto it = staging_.find(write_id); it != staging_.end()) {
    retention = it->second.retention;
    staging_.erase(it);
  }
  const std::string name = segment->header().name;
  const uint64_t generation = next_number_++;
  const absl::Status sealed = segment->Seal(
      PathOf(PublishedFileName(options_.name_space, name, generation)),
      generation, checksum, options_.published_mode);
  if (!sealed.ok()) {
    used_bytes_ -= FileBytes(*segment);
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("%s", unlinked.message());
    return sealed;
  }
  // The new generation is in place; only now drop the old one's name.
  CrashPoint("after_rename_before_unlink");
  std::shared_ptr<const Segment>& current = published_[name];
  if (current != nullptr) {
    absl::Status unlinked = current->Unlink();
    if (!unlinked.ok()) LogWarning("replace: %s", unlinked.message());
    used_bytes_ -= FileBytes(*current);
  }
  last_access_[name] = absl::Now();
  retention.generation = generation;
  SetRetentionLocked(name, retention);
  SetSourceLocked(name, segment->header().source);
  absl::Status persisted = PersistRetentionLocked();
  if (!persisted.ok()) LogWarning("retention: %s", persisted.message());
  *previous = std::exchange(current, segment);
  *published = segment;
  return DescribeLocked(name, *segment);
}

absl::Status Store::Abort(absl::string_view write_id) {
  std::shared_ptr<Segment> segment;
  {
    absl::MutexLock lock(&mu_);
    auto it = staging_.find(write_id);
    if (it == staging_.end()) return NoSuchWrite(write_id);
    if (it->second.committing) {
      return absl::FailedPreconditionError(absl::StrCat(
          "staging write ", write_id, " is being committed; too late to abort"));
    }
    segment = std::move(it->second.segment);
    staging_.erase(it);
    used_bytes_ -= FileBytes(*segment);
  }
  return segment->Unlink();
}

absl::Status Store::RenewLease(absl::string_view write_id,
                              absl::Time lease_deadline) {
  absl::MutexLock lock(&mu_);
  auto it = staging_.find(write_id);
  if (it == staging_.end()) return NoSuchWrite(write_id);
  it->second.lease_deadline = lease_deadline;
  return absl::OkStatus();
}

int Store::AbortExpired(absl::Time now) {
  std::vector<std::shared_ptr<Segment>> expired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = staging_.begin(); it != staging_.end();) {
      if (!it->second.committing && it->second.lease_deadline < now) {
        used_bytes_ -= FileBytes(*it->second.segment);
        expired.push_back(std::move(it->second.segment));
        staging_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (const std::shared_ptr<Segment>& segment : expired) {
    LogInfo("lease expired: removing %s", segment->path());
    absl::Status unlinked = segment->Unlink();
    if (!unlinked.ok()) LogWarning("%s", unlinked.message());
  }
  return static_cast<int>(expired.size());
}

absl::StatusOr<std::shared_ptr<const Segment>> Store::Acquire(
    absl::string_view name, uint64_t generation) const {
  RETURN_IF_ERROR(ValidateName(name));
  absl::MutexLock lock(&mu_);
  return AcquireLocked(name, generation);
}

absl::StatusOr<std::shared_ptr<const Segment>> Store::AcquireLocked(
    absl::string_view name, uint64_t generation) const {
  auto it = published_.find(name);
  if (it == published_.end()) {
    ++misses_;
    return NoSuchMatrix(name);
  }
  const uint64_t current = it->second->header().generation;
  if (generation != 0 && generation != current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "generation ", generation, " of \"", name, "\" is gone; the current ",
        "one is ", current));
  }
  ++hits_;
  last_access_[it->first] = absl::Now();
  return it->second;
}

absl::StatusOr<MatrixInfo> Store::Info(absl::string_view name) const {
  RETURN_IF_ERROR(ValidateName(name));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(std::shared_ptr<const Segment> segment, AcquireLocked(name, 0));
  return DescribeLocked(std::string(name), *segment);
}

std::vector<MatrixInfo> Store::List(absl::string_view prefix,
                                    absl::string_view start_after,
                                    size_t limit) const {
  std::vector<MatrixInfo> result;
  absl::MutexLock lock(&mu_);
  const std::string from(start_after < prefix ? prefix : start_after);
  const bool inclusive = start_after < prefix;
  auto first = [&](const auto& map) {
    return inclusive ? map.lower_bound(from) : map.upper_bound(from);
  };
  // Merge, in name order, the published matrices and the unread sources.
  auto published = first(published_);
  auto source = first(sources_);
  while (result.size() < limit) {
    while (source != sources_.end() && published_.count(source->first) > 0) ++source;
    const bool has_published = published != published_.end() &&
                               absl::StartsWith(published->first, prefix);
    const bool has_source = source != sources_.end() &&
                            absl::StartsWith(source->first, prefix);
    if (!has_published && !has_source) break;
    if (has_published && (!has_source || published->first < source->first)) {
      result.push_back(DescribeLocked(published->first, *published->second));
      ++published;
    } else {
      auto info = source_info_.find(source->first);
      MatrixInfo unread =
          info != source_info_.end() ? info->second : MatrixInfo();
      unread.name = source->first;
      unread.source = source->second;
      unread.generation = 0;
      result.push_back(std::move(unread));
      ++source;
    }
  }
  return result;
}

absl::Status Store::Delete(absl::string_view name, uint64_t generation) {
  RETURN_IF_ERROR(ValidateName(name));
  std::vector<std::shared_ptr<const Segment>> removed;  // freed unlocked
  absl::MutexLock lock(&mu_);
  auto it = published_.find(name);
  if (it == published_.end()) return NoSuchMatrix(name);
  const uint64_t current = it->second->header().generation;
  if (generation != 0 && generation != current) {
    return absl::FailedPreconditionError(absl::StrCat(
        "matrix \"", name, "\" is at generation ", current, ", not ",
        generation));
  }
  absl::Status unlinked = it->second->Unlink();
  CrashPoint("mid_delete");
  // A file an operator already removed by hand is as good as deleted.
  if (!unlinked.ok() && !absl::IsNotFound(unlinked)) return unlinked;
  // Free the pages (when nobody else holds them) after unlocking.
  RemovePersistedLocked(it->first);
  SetSourceLocked(it->first, "");
  RemoveLocked(it, &removed);
  absl::Status persisted = PersistRetentionLocked();
  if (!persisted.ok()) LogWarning("retention: %s", persisted.message());
  return absl::OkStatus();
}

StoreStats Store::Stats() const {
  StoreStats stats;
  stats.quarantined_count = recovery_report_.quarantined;
  struct statvfs fs;
  if (statvfs(options_.shm_dir.c_str(), &fs) == 0) {
    stats.shm_dir_total_bytes = static_cast<int64_t>(fs.f_blocks * fs.f_frsize);
    stats.shm_dir_free_bytes = static_cast<int64_t>(fs.f_bavail * fs.f_frsize);
  }
  absl::MutexLock lock(&mu_);
  stats.max_bytes = options_.max_bytes;
  stats.used_bytes = used_bytes_;
  stats.peak_used_bytes = peak_used_bytes_;
  stats.spare_bytes = (spare_ != nullptr ? spare_->size() : 0) +
                      spare_filling_ + spare_removing_;
  stats.spare_pending = spare_wanted_ > 0 || spare_filling_ > 0 ||
                        spare_removing_ > 0 || spare_drops_waiting_ > 0;
  stats.evictions = evictions_;
  stats.expirations = expirations_;
  stats.loads = loads_;
  stats.hits = hits_;
  stats.misses = misses_;
  stats.matrix_count = static_cast<int64_t>(published_.size());
  for (const auto& [name, segment] : published_) {
    auto access = last_access_.find(name);
    stats.last_access.emplace_back(
        name, access != last_access_.end() ? access->second : absl::InfinitePast());
  }
  for (const auto& [name, segment] : published_) {
    stats.matrix_bytes += static_cast<int64_t>(segment->header().data_length);
  }
  stats.staging_count = static_cast<int64_t>(staging_.size()) + creating_.count;
  stats.staging_bytes = creating_.data_bytes;
  for (const auto& [write_id, entry] : staging_) {
    stats.staging_bytes +=
        static_cast<int64_t>(entry.segment->header().data_length);
  }
  return stats;
}

void Store::SetSourceLocked(const std::string& name, const std::string& path) {
  auto it = sources_.find(name);
  if (path.empty() ? it == sources_.end()
                   : (it != sources_.end() && it->second == path)) {
    return;
  }
  if (path.empty()) {
    sources_.erase(it);
    source_info_.erase(name);
  } else {
    sources_[name] = path;
  }
  std::string text;
  for (const auto& [key, source] : sources_) absl::StrAppend(&text, key, "\t", source, "\n");
  absl::Status written = ReplaceFile(sources_path_, text);
  if (!written.ok()) LogWarning("sources: %s", written.message());
}

absl::StatusOr<MatrixInfo> Store::RegisterSource(absl::string_view name,
                                                 const std::string& path) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(CheckSourcePath(path));
  ASSIGN_OR_RETURN(const SourceFile file, OpenSource(path));
  ASSIGN_OR_RETURN(NpyHeader header, ReadNpyFileHeader(file.fd(), path));
  MatrixInfo info;
  info.name = std::string(name);
  info.shape = header.shape;
  info.dtype = header.dtype;
  info.original_dtype = header.dtype;
  info.nbytes = header.data_bytes;
  info.source = path;
  absl::MutexLock lock(&mu_);
  SetSourceLocked(info.name, path);
  source_info_[info.name] = info;
  return info;
}

bool Store::NeedsLoad(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  return published_.find(name) == published_.end() &&
         sources_.find(std::string(name)) != sources_.end();
}

bool Store::Contains(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  return published_.find(name) != published_.end();
}

absl::Status Store::LoadFrom(absl::string_view name, const std::string& path) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(CheckSourcePath(path));
  absl::Status loaded = LoadFromSource(name, path);
  if (loaded.ok()) {
    absl::MutexLock lock(&mu_);
    ++loads_;
  }
  return loaded;
}

absl::Status Store::EnsureLoaded(absl::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  const std::string key(name);
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (published_.find(key) != published_.end()) return absl::OkStatus();
      auto source = sources_.find(key);
      if (source == sources_.end()) return NoSuchMatrix(name);
      if (loading_.count(key) == 0) {
        path = source->second;
        loading_.insert(key);
        break;
      }
      load_done_.Wait(&mu_);  // another caller is reading the same file
    }
  }
  absl::Status loaded = LoadFromSource(name, path);
  {
    absl::MutexLock lock(&mu_);
    loading_.erase(key);
    if (loaded.ok()) ++loads_;
  }
  load_done_.SignalAll();
  if (!loaded.ok()) LogWarning("load of \"%s\" from %s: %s", name, path, loaded.message());
  return loaded;
}

absl::Status Store::LoadFromSource(absl::string_view name, const std::string& path) {
  // One open for the header and the data: the file cannot be swapped
  // between them.
  ASSIGN_OR_RETURN(const SourceFile file, OpenSource(path));
  ASSIGN_OR_RETURN(NpyHeader header, ReadNpyFileHeader(file.fd(), path));
  Retention retention;
  std::optional<DType> original;
  {
    absl::MutexLock lock(&mu_);
    if (auto meta = persisted_meta_.find(std::string(name));
        meta != persisted_meta_.end()) {
      retention = meta->second.retention;
      original = meta->second.original_dtype;
    }
    // A replaced version hands on its pin and expiry.
    if (auto current = retention_.find(std::string(name));
        current != retention_.end()) {
      retention = current->second;
    }
  }
  ASSIGN_OR_RETURN(StagingWrite write,
                   BeginWrite(name, header.shape, header.dtype,
                              Segment::Prefault::kNo, absl::InfiniteFuture(),
                              retention, original, path));
  absl::Status read = ReadNpyFileData(file.fd(), path, header, *write.segment);
  if (!read.ok()) {
    absl::Status aborted = Abort(write.write_id);
    if (!aborted.ok()) LogWarning("%s", aborted.message());
    return read;
  }
  return Commit(write.write_id).status();
}

void Store::RemovePersistedLocked(const std::string& name) {
  if (options_.persist_dir.empty()) return;
  persisted_meta_.erase(name);
  for (const char* suffix : {".npy", ".meta"}) {
    const std::string path = absl::StrCat(options_.persist_dir, "/", name, suffix);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      LogWarning("%s", PosixError(errno, "unlink", path).message());
    }
  }
}

void Store::SetPublishListener(
    std::function<void(std::shared_ptr<const Segment>)> listener) {
  absl::MutexLock lock(&mu_);
  publish_listener_ = std::move(listener);
}

absl::Status Store::Persist(const std::shared_ptr<const Segment>& segment) {
  if (options_.persist_dir.empty()) return absl::OkStatus();
  const SegmentHeader& header = segment->header();
  const std::string final_path =
      absl::StrCat(options_.persist_dir, "/", header.name, ".npy");
  const std::string aside = absl::StrCat(options_.persist_dir, "/.", header.name,
                                         ".", header.generation, ".tmp");
  const std::string npy_header = NpyHeaderFor(header.dtype, header.shape);
  const int fd = open(aside.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError(errno, "create", aside);
  absl::Status written = absl::OkStatus();
  for (const auto& [data, size] :
       {std::pair<const char*, size_t>{npy_header.data(), npy_header.size()},
        {segment->data(), static_cast<size_t>(header.data_length)}}) {
    for (size_t done = 0; written.ok() && done < size;) {
      const ssize_t n = write(fd, data + done, size - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) written = PosixError(errno, "write", aside);
      if (n > 0) done += static_cast<size_t>(n);
    }
  }
  // A half-written file is never taken for a good one: it is synced before
  // it gets its name.
  if (written.ok() && fsync(fd) != 0) written = PosixError(errno, "fsync", aside);
  close(fd);
  if (!written.ok()) {
    unlink(aside.c_str());
    return written;
  }
  absl::MutexLock lock(&mu_);
  auto it = published_.find(header.name);
  if (it == published_.end() || it->second != segment) {
    unlink(aside.c_str());  // replaced or deleted meanwhile
    return absl::OkStatus();
  }
  if (rename(aside.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    unlink(aside.c_str());
    return PosixError(error, "rename", aside);
  }
  SetSourceLocked(header.name, final_path);
  return WriteMetaLocked(header.name);
}

absl::Status Store::WriteMetaLocked(const std::string& name) {
  auto it = published_.find(name);
  if (options_.persist_dir.empty() || it == published_.end()) {
    return absl::OkStatus();
  }
  PersistedMeta meta;
  if (auto retention = retention_.find(name); retention != retention_.end()) {
    meta.retention = retention->second;
  }
  meta.original_dtype = it->second->header().original_dtype;
  persisted_meta_[name] = meta;
  const std::string text = absl::StrCat(
      "pinned ", meta.retention.pinned ? 1 : 0, "\nexpires ",
      meta.retention.expires == absl::InfiniteFuture()
          ? std::string("-")
          : absl::StrCat(absl::ToUnixSeconds(meta.retention.expires)),
      "\noriginal_dtype ", static_cast<uint32_t>(meta.original_dtype), "\n");
  return ReplaceFile(absl::StrCat(options_.persist_dir, "/", name, ".meta"), text);
}

std::vector<std::shared_ptr<const Segment>> Store::AdoptPersisted() {
  std::vector<std::shared_ptr<const Segment>> unpersisted;
  if (options_.persist_dir.empty()) return unpersisted;
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code error;
  for (const auto& entry :
       std::filesystem::directory_iterator(options_.persist_dir, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() == ".npy" && entry.is_regular_file() &&
        ValidateName(path.stem().string()).ok()) {
      files.emplace_back(path.stem().string(), path.string());
    } else if (path.extension() == ".tmp") {
      std::filesystem::remove(path, error);  // a write cut short
    }
  }
  for (const auto& [name, path] : files) {
    bool known;
    {
      absl::MutexLock lock(&mu_);
      known = published_.count(name) > 0 || sources_.count(name) > 0;
    }
    if (!known) {
      absl::StatusOr<MatrixInfo> registered = RegisterSource(name, path);
      if (!registered.ok()) {
        LogWarning("persist: %s", registered.status().message());
        continue;
      }
    }
    // Lines "pinned 0|1", "expires <unix seconds>|-", "original_dtype <code>".
    absl::StatusOr<std::optional<std::string>> text =
        ReadOwnFile(absl::StrCat(options_.persist_dir, "/", name, ".meta"));
    if (!text.ok()) LogWarning("persist: %s", text.status().message());
    std::istringstream file(text.ok() ? text->value_or("") : "");
    PersistedMeta meta;
    bool has_dtype = false;
    std::string key, value;
    while (file >> key >> value) {
      int64_t number;
      if (key == "pinned") meta.retention.pinned = value == "1";
      if (key == "expires" && absl::SimpleAtoi(value, &number)) {
        meta.retention.expires = absl::FromUnixSeconds(number);
      }
      if (key == "original_dtype" && absl::SimpleAtoi(value, &number)) {
        absl::StatusOr<DTypeInfo> dtype = DTypeFromCode(static_cast<uint32_t>(number));
        if (dtype.ok()) {
          meta.original_dtype = dtype->dtype;
          has_dtype = true;
        }
      }
    }
    if (!has_dtype) continue;  // no (or a damaged) record: defaults apply
    absl::MutexLock lock(&mu_);
    persisted_meta_[name] = meta;
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [name, segment] : published_) {
    if (sources_.count(name) == 0) unpersisted.push_back(segment);
  }
  return unpersisted;
}

}  // namespace matcache
