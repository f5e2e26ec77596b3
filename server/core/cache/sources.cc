#include "server/core/cache/sources.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/header.h"
#include "server/core/format/name.h"
#include "server/core/storage/atomic_file.h"
#include "server/core/storage/npy_file.h"
#include "server/core/storage/source_file.h"

namespace matcache {

absl::Status CheckSourcePath(const std::string& path) {
  if (path.size() > kMaxSourceLength || path.find('\n') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("source path has over ", kMaxSourceLength,
                     " characters or a line break"));
  }
  return absl::OkStatus();
}

absl::StatusOr<MatrixInfo> DescribeSource(absl::Span<const std::string> roots,
                                          const std::string& name,
                                          const std::string& path) {
  ASSIGN_OR_RETURN(const SourceFile file, SourceFile::Open(roots, path));
  ASSIGN_OR_RETURN(NpyHeader header, ReadNpyFileHeader(file.fd(), path));
  MatrixInfo info;
  info.name = name;
  info.shape = header.shape;
  info.dtype = header.dtype;
  info.original_dtype = header.dtype;
  info.nbytes = header.data_bytes;
  info.source = path;
  return info;
}

Sources::Sources(std::string file) : file_(std::move(file)) {}

void Sources::Restore(const Paths& loaded_from, absl::string_view text) {
  paths_ = loaded_from;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    const size_t tab = line.find('\t');
    if (tab == absl::string_view::npos || !ValidateName(line.substr(0, tab)).ok()) {
      LogWarning("%s: skipping malformed line \"%s\"", file_, line);
      continue;
    }
    paths_.emplace(line.substr(0, tab), line.substr(tab + 1));
  }
}

void Sources::Set(const std::string& name, const std::string& path) {
  auto it = paths_.find(name);
  if (path.empty() ? it == paths_.end()
                   : (it != paths_.end() && it->second == path)) {
    return;
  }
  if (path.empty()) {
    paths_.erase(it);
    unread_.erase(name);
  } else {
    paths_[name] = path;
  }
  std::string text;
  for (const auto& [key, source] : paths_) absl::StrAppend(&text, key, "\t", source, "\n");
  absl::Status written = ReplaceFile(file_, text);
  if (!written.ok()) LogWarning("sources: %s", written.message());
}

void Sources::SetUnread(const std::string& name, MatrixInfo info) {
  unread_[name] = std::move(info);
}

MatrixInfo Sources::Unread(const std::string& name) const {
  auto it = unread_.find(name);
  return it != unread_.end() ? it->second : MatrixInfo();
}

const std::string* Sources::Find(absl::string_view name) const {
  auto it = paths_.find(std::string(name));
  return it == paths_.end() ? nullptr : &it->second;
}

bool Sources::StartLoad(const std::string& name) {
  return loading_.insert(name).second;
}

void Sources::WaitForLoad(absl::Mutex* mu) { load_done_.Wait(mu); }

void Sources::FinishLoad(const std::string& name) {
  loading_.erase(name);
  load_done_.SignalAll();
}

}  // namespace matcache
