// Sources: the .npy file each matrix name is read from (on first access and
// again after an eviction), kept across restarts in the sources file
// (<shm_dir>/<namespace>.sources, "name<TAB>path" lines, replaced
// atomically), what each source holds while it is not read yet, and the
// single-flight loading that makes concurrent first accesses read a file
// once.
//
// Not thread-safe: Store guards it with its mutex, which WaitForLoad is
// given.
#ifndef MATCACHE_SERVER_CORE_CACHE_SOURCES_H_
#define MATCACHE_SERVER_CORE_CACHE_SOURCES_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/core/cache/matrix_info.h"

namespace matcache {

// INVALID_ARGUMENT for a source path the sources file cannot hold.
absl::Status CheckSourcePath(const std::string& path);

// What the source `path`, opened beneath `roots` (see SourceFile::Open,
// whose errors come back), holds, as the unread matrix `name` (generation
// 0). INVALID_ARGUMENT if it is malformed.
absl::StatusOr<MatrixInfo> DescribeSource(absl::Span<const std::string> roots,
                                          const std::string& name,
                                          const std::string& path);

class Sources {
 public:
  using Paths = std::map<std::string, std::string>;

  // `file`: the sources file.
  explicit Sources(std::string file);

  // Adds, without rewriting the file, the sources `loaded_from` (those of
  // the recovered segments), then those of the sources file's `text` for
  // other names (skipping malformed lines with a log line).
  void Restore(const Paths& loaded_from, absl::string_view text);

  // Sets, or with an empty path forgets, the source of `name` (and, then,
  // what it holds), rewriting the sources file on change; a failed write is
  // logged (the file is a record; the source holds in memory).
  void Set(const std::string& name, const std::string& path);
  // Records what the source of `name` holds, for List while it is unread.
  void SetUnread(const std::string& name, MatrixInfo info);
  // What the source of `name` holds, as recorded; default if not.
  MatrixInfo Unread(const std::string& name) const;

  // The source of `name`, or null.
  const std::string* Find(absl::string_view name) const;
  bool Contains(absl::string_view name) const { return Find(name) != nullptr; }
  // Every source, in name order.
  const Paths& paths() const { return paths_; }

  // Single flight: marks `name` as being loaded and returns true, unless it
  // is already (then false: WaitForLoad, and look again).
  bool StartLoad(const std::string& name);
  // Waits, releasing `mu` (held, the store's), until some load finishes.
  void WaitForLoad(absl::Mutex* mu) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Ends the load StartLoad began and wakes the waiters.
  void FinishLoad(const std::string& name);

 private:
  const std::string file_;
  Paths paths_;
  std::map<std::string, MatrixInfo> unread_;
  std::set<std::string> loading_;
  absl::CondVar load_done_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_CACHE_SOURCES_H_
