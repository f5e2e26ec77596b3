// Store: .npy sources, loading from them, and the persist directory.
#include <unistd.h>

#include <utility>

#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"
#include "server/core/cache/store.h"
#include "server/core/format/name.h"
#include "server/core/storage/npy_file.h"
#include "server/core/storage/source_file.h"

namespace matcache {

std::vector<std::string> Store::SourceRoots() const {
  std::vector<std::string> roots = options_.source_dirs;
  roots.push_back(options_.persist_dir);
  return roots;
}

absl::StatusOr<MatrixInfo> Store::RegisterSource(absl::string_view name,
                                                 const std::string& path) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(CheckSourcePath(path));
  ASSIGN_OR_RETURN(MatrixInfo info,
                   DescribeSource(SourceRoots(), std::string(name), path));
  absl::MutexLock lock(&mu_);
  sources_.Set(info.name, path);
  sources_.SetUnread(info.name, info);
  return info;
}

bool Store::NeedsLoad(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  return !catalogue_.Contains(name) && sources_.Contains(name);
}

bool Store::Contains(absl::string_view name) const {
  absl::MutexLock lock(&mu_);
  return catalogue_.Contains(name);
}

absl::Status Store::LoadFrom(absl::string_view name, const std::string& path) {
  RETURN_IF_ERROR(ValidateName(name));
  RETURN_IF_ERROR(CheckSourcePath(path));
  return LoadFromSource(name, path);
}

absl::Status Store::EnsureLoaded(absl::string_view name) {
  RETURN_IF_ERROR(ValidateName(name));
  const std::string key(name);
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    while (true) {
      if (catalogue_.Contains(key)) return absl::OkStatus();
      const std::string* source = sources_.Find(key);
      if (source == nullptr) {
        return absl::NotFoundError(absl::StrCat("no matrix named \"", name, "\""));
      }
      if (sources_.StartLoad(key)) {
        path = *source;
        break;
      }
      sources_.WaitForLoad(&mu_);  // another caller is reading the same file
    }
  }
  absl::Status loaded = LoadFromSource(name, path);
  {
    absl::MutexLock lock(&mu_);
    sources_.FinishLoad(key);
  }
  if (!loaded.ok()) LogWarning("load of \"%s\" from %s: %s", name, path, loaded.message());
  return loaded;
}

absl::Status Store::LoadFromSource(absl::string_view name, const std::string& path) {
  // One open for the header and the data: the file cannot be swapped
  // between them.
  ASSIGN_OR_RETURN(const SourceFile file, SourceFile::Open(SourceRoots(), path));
  ASSIGN_OR_RETURN(NpyHeader header, ReadNpyFileHeader(file.fd(), path));
  const std::string key(name);
  Retention retention;
  std::optional<DType> original;
  {
    absl::MutexLock lock(&mu_);
    if (const PersistedMeta* meta = persister_.Meta(key)) {
      retention = meta->retention;
      original = meta->original_dtype;
    }
    // A replaced version hands on its pin and expiry.
    if (const Retention current = retention_.Get(key); !current.is_default()) {
      retention = current;
    }
  }
  ASSIGN_OR_RETURN(StagingWrite write,
                   BeginWrite(name, header.shape, header.dtype,
                              Segment::Prefault::kNo, absl::InfiniteFuture(),
                              retention, original, path));
  absl::Status read = ReadNpyFileData(file.fd(), path, header, *write.segment,
                                      options_.checksum_threads);
  if (!read.ok()) {
    absl::Status aborted = Abort(write.write_id);
    if (!aborted.ok()) LogWarning("%s", aborted.message());
    return read;
  }
  return Commit(write.write_id).status();
}

absl::Status Store::Persist(const std::shared_ptr<const Segment>& segment) {
  const std::string& dir = options_.persist_dir;
  if (dir.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(const std::string aside, Persister::WriteAside(dir, *segment));
  const std::string& name = segment->header().name;
  absl::MutexLock lock(&mu_);
  if (catalogue_.Find(name) != segment) {
    unlink(aside.c_str());  // replaced or deleted meanwhile
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(const std::string path, Persister::Install(dir, aside, name));
  sources_.Set(name, path);
  return WriteMetaLocked(name);
}

absl::Status Store::WriteMetaLocked(const std::string& name) {
  const std::shared_ptr<const Segment> segment = catalogue_.Find(name);
  if (!persister_.enabled() || segment == nullptr) return absl::OkStatus();
  PersistedMeta meta;
  meta.retention = retention_.Get(name);
  meta.original_dtype = segment->header().original_dtype;
  return persister_.WriteMeta(name, meta);
}

std::vector<std::shared_ptr<const Segment>> Store::AdoptPersisted() {
  std::vector<std::shared_ptr<const Segment>> unpersisted;
  const std::string& dir = options_.persist_dir;
  if (dir.empty()) return unpersisted;
  for (const auto& [name, path] : Persister::Scan(dir)) {
    bool known;
    {
      absl::MutexLock lock(&mu_);
      known = catalogue_.Contains(name) || sources_.Contains(name);
    }
    if (!known) {
      absl::StatusOr<MatrixInfo> registered = RegisterSource(name, path);
      if (!registered.ok()) {
        LogWarning("persist: %s", registered.status().message());
        continue;
      }
    }
    std::optional<PersistedMeta> meta = Persister::ReadMeta(dir, name);
    if (!meta.has_value()) continue;  // defaults apply
    absl::MutexLock lock(&mu_);
    persister_.Adopt(name, *meta);
  }
  absl::MutexLock lock(&mu_);
  for (const auto& [name, segment] : catalogue_.versions()) {
    if (!sources_.Contains(name)) unpersisted.push_back(segment);
  }
  return unpersisted;
}

}  // namespace matcache
