// Persister: the persist directory (StoreOptions::persist_dir), where each
// matrix put without a source is kept as <name>.npy, with <name>.meta beside
// it (pin, expiry, original dtype), so that a reboot (which empties the
// tmpfs) loses nothing; and what those .meta files said, for the matrices
// adopted from there after a reboot.
//
// A .npy is written aside (.<name>.<generation>.tmp), synced, then renamed,
// so that a half-written file never passes for a good one. The static
// functions touch only files and may run unlocked; the rest is not
// thread-safe: Store guards it with its mutex. Without a directory the
// methods do nothing.
#ifndef MATCACHE_SERVER_CORE_CACHE_PERSISTER_H_
#define MATCACHE_SERVER_CORE_CACHE_PERSISTER_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/core/cache/retention.h"
#include "matcache/dtype.h"
#include "server/core/storage/segment.h"

namespace matcache {

// What a persisted matrix had besides its data, restored when it loads.
struct PersistedMeta {
  Retention retention;
  DType original_dtype = DType::kFloat64;
};

class Persister {
 public:
  // `dir`: canonical, or empty for none.
  explicit Persister(std::string dir);

  bool enabled() const { return !dir_.empty(); }

  // Writes `segment` as a .npy aside in `dir` and returns that file's path;
  // the errors of creating, writing and syncing it (then nothing is left).
  static absl::StatusOr<std::string> WriteAside(const std::string& dir,
                                                const Segment& segment);
  // Renames the file WriteAside made for `name` to <dir>/<name>.npy and
  // returns that path; the rename's error (then the aside file is removed).
  static absl::StatusOr<std::string> Install(const std::string& dir,
                                             const std::string& aside,
                                             const std::string& name);
  // The <dir>/<name>.npy files with a valid matrix name, as (name, path),
  // removing the aside files writes cut short left.
  static std::vector<std::pair<std::string, std::string>> Scan(
      const std::string& dir);
  // What <dir>/<name>.meta says; nullopt if it is missing or damaged (then
  // defaults apply).
  static std::optional<PersistedMeta> ReadMeta(const std::string& dir,
                                               const std::string& name);

  // Records `meta` for `name` and writes <name>.meta: ReplaceFile's errors.
  absl::Status WriteMeta(const std::string& name, const PersistedMeta& meta);
  // What was recorded for `name` (by WriteMeta or Adopt), or null.
  const PersistedMeta* Meta(const std::string& name) const;
  // Removes the persisted copy of `name` and its record, if any (logging a
  // failure to unlink).
  void Remove(const std::string& name);

  // Records `meta`, read by ReadMeta after a reboot, for `name`.
  void Adopt(const std::string& name, const PersistedMeta& meta);

 private:
  const std::string dir_;
  std::map<std::string, PersistedMeta> meta_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_PERSISTER_H_
