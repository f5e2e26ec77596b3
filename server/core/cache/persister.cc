#include "server/core/cache/persister.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/core/base/logging.h"
#include "server/core/base/posix_error.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/name.h"
#include "server/core/format/npy.h"
#include "server/core/storage/atomic_file.h"

namespace matcache {

Persister::Persister(std::string dir) : dir_(std::move(dir)) {}

absl::StatusOr<std::string> Persister::WriteAside(const std::string& dir,
                                                  const Segment& segment) {
  const SegmentHeader& header = segment.header();
  const std::string aside = absl::StrCat(dir, "/.", header.name, ".",
                                         header.generation, ".tmp");
  const std::string npy_header = NpyHeaderFor(header.dtype, header.shape);
  ASSIGN_OR_RETURN(const std::shared_ptr<const SegmentData> data,
                   segment.MapData());
  const int fd = open(aside.c_str(),
                      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return PosixError(errno, "create", aside);
  absl::Status written = absl::OkStatus();
  for (const auto& [bytes, size] :
       {std::pair<const char*, size_t>{npy_header.data(), npy_header.size()},
        {data->data(), static_cast<size_t>(header.data_length)}}) {
    for (size_t done = 0; written.ok() && done < size;) {
      const ssize_t n = write(fd, bytes + done, size - done);
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
  return aside;
}

absl::StatusOr<std::string> Persister::Install(const std::string& dir,
                                               const std::string& aside,
                                               const std::string& name) {
  const std::string final_path = absl::StrCat(dir, "/", name, ".npy");
  if (rename(aside.c_str(), final_path.c_str()) != 0) {
    const int error = errno;
    unlink(aside.c_str());
    return PosixError(error, "rename", aside);
  }
  return final_path;
}

absl::Status Persister::WriteMeta(const std::string& name,
                                  const PersistedMeta& meta) {
  if (!enabled()) return absl::OkStatus();
  meta_[name] = meta;
  const std::string text = absl::StrCat(
      "pinned ", meta.retention.pinned ? 1 : 0, "\nexpires ",
      meta.retention.expires == absl::InfiniteFuture()
          ? std::string("-")
          : absl::StrCat(absl::ToUnixSeconds(meta.retention.expires)),
      "\noriginal_dtype ", static_cast<uint32_t>(meta.original_dtype), "\n");
  return ReplaceFile(absl::StrCat(dir_, "/", name, ".meta"), text);
}

const PersistedMeta* Persister::Meta(const std::string& name) const {
  auto it = meta_.find(name);
  return it == meta_.end() ? nullptr : &it->second;
}

void Persister::Remove(const std::string& name) {
  if (!enabled()) return;
  meta_.erase(name);
  for (const char* suffix : {".npy", ".meta"}) {
    const std::string path = absl::StrCat(dir_, "/", name, suffix);
    if (unlink(path.c_str()) != 0 && errno != ENOENT) {
      LogWarning("%s", PosixError(errno, "unlink", path).message());
    }
  }
}

std::vector<std::pair<std::string, std::string>> Persister::Scan(
    const std::string& dir) {
  std::vector<std::pair<std::string, std::string>> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::filesystem::path& path = entry.path();
    if (path.extension() == ".npy" && entry.is_regular_file() &&
        ValidateName(path.stem().string()).ok()) {
      files.emplace_back(path.stem().string(), path.string());
    } else if (path.extension() == ".tmp") {
      std::filesystem::remove(path, error);  // a write cut short
    }
  }
  return files;
}

std::optional<PersistedMeta> Persister::ReadMeta(const std::string& dir,
                                                const std::string& name) {
  // Lines "pinned 0|1", "expires <unix seconds>|-", "original_dtype <code>".
  absl::StatusOr<std::optional<std::string>> text =
      ReadOwnFile(absl::StrCat(dir, "/", name, ".meta"));
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
  if (!has_dtype) return std::nullopt;  // no (or a damaged) record
  return meta;
}

void Persister::Adopt(const std::string& name, const PersistedMeta& meta) {
  if (enabled()) meta_[name] = meta;
}

}  // namespace matcache
