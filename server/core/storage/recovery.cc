#include "server/core/storage/recovery.h"

#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "server/core/base/crash_point.h"
#include "server/core/base/logging.h"
#include "server/core/base/posix_error.h"
#include "server/core/storage/segment_file_name.h"

namespace matcache {
namespace {

struct Candidate {
  uint64_t generation;
  std::string path;
};

void RemoveFile(const std::string& path, absl::string_view why) {
  if (unlink(path.c_str()) == 0) {
    LogInfo("recovery: removed %s %s", why, path);
  } else if (errno != ENOENT) {
    LogWarning("recovery: cannot remove %s: %s",
               path, PosixError(errno, "unlink", path).message());
  }
}

bool Quarantine(const std::string& path, absl::string_view reason) {
  const std::string aside = QuarantineFileName(path);
  if (rename(path.c_str(), aside.c_str()) != 0) {
    LogError("recovery: cannot quarantine corrupt %s (%s): %s", path, reason,
             PosixError(errno, "rename", path).message());
    return false;
  }
  LogError("recovery: quarantined corrupt segment as %s: %s", aside, reason);
  return true;
}

// FAILED_PRECONDITION unless `path` is a regular file of this process's
// user, with one link and no write permission: anything else was not made
// by this server (in a shared directory such as /dev/shm, another user could
// plant it and keep the power to change it).
absl::Status CheckOwnership(const std::string& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) return PosixError(errno, "stat", path);
  if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || st.st_nlink != 1 ||
      (st.st_mode & 0222) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " is not a read-only file of this server's user with one link"));
  }
  return absl::OkStatus();
}

// Opens `candidate` and checks that its header agrees with its file name.
absl::StatusOr<Segment> OpenCandidate(const std::string& name,
                                      const Candidate& candidate,
                                      Segment::Verify verify) {
  absl::Status owned = CheckOwnership(candidate.path);
  if (!owned.ok()) return owned;
  absl::StatusOr<Segment> segment =
      Segment::OpenReadOnly(candidate.path, verify);
  if (!segment.ok()) return segment.status();
  if (segment->header().name != name ||
      segment->header().generation != candidate.generation) {
    return absl::DataLossError(absl::StrCat(
        candidate.path, ": header names \"", segment->header().name,
        "\" generation ", segment->header().generation,
        ", which does not match the file name"));
  }
  return segment;
}

}  // namespace

absl::StatusOr<RecoveredSegments> RecoverSegments(const std::string& dir,
                                                  absl::string_view name_space,
                                                  Segment::Verify verify) {
  std::unique_ptr<DIR, int (*)(DIR*)> stream(opendir(dir.c_str()), &closedir);
  if (stream == nullptr) return PosixError(errno, "opendir", dir);

  RecoveredSegments result;
  std::map<std::string, std::vector<Candidate>> published;
  for (;;) {
    // Calls in the loop (lstat, a tolerated unlink, logging) may leave errno
    // set: only readdir's own says whether the directory ended or failed.
    errno = 0;
    const dirent* entry = readdir(stream.get());
    if (entry == nullptr) {
      if (errno != 0) return PosixError(errno, "readdir", dir);
      break;
    }
    std::optional<SegmentFileName> parsed =
        ParseSegmentFileName(name_space, entry->d_name);
    if (!parsed.has_value()) continue;
    const std::string path = absl::StrCat(dir, "/", entry->d_name);
    result.max_number = std::max(result.max_number, parsed->number);
    if (parsed->kind == SegmentFileKind::kSpare) {
      RemoveFile(path, "spare file");
      ++result.report.spares_removed;
      CrashPoint("mid_recovery");
    } else if (parsed->kind == SegmentFileKind::kStaging) {
      RemoveFile(path, "staging file");
      ++result.report.staging_removed;
      CrashPoint("mid_recovery");
    } else {
      published[parsed->name].push_back({parsed->number, path});
    }
  }

  for (auto& [name, candidates] : published) {
    std::sort(candidates.begin(), candidates.end(),
              [](const Candidate& a, const Candidate& b) {
                return a.generation > b.generation;
              });
    bool adopted = false;
    for (const Candidate& candidate : candidates) {
      absl::StatusOr<Segment> segment = OpenCandidate(name, candidate, verify);
      if (segment.ok()) {
        if (adopted) {
          RemoveFile(candidate.path, "superseded generation");
          ++result.report.superseded_removed;
          CrashPoint("mid_recovery");
        } else {
          result.segments.push_back(*std::move(segment));
          ++result.report.adopted;
          adopted = true;
        }
      } else if (absl::IsDataLoss(segment.status())) {
        if (Quarantine(candidate.path, segment.status().message())) {
          ++result.report.quarantined;
        }
      } else {
        LogWarning("recovery: skipping %s: %s", candidate.path,
                   segment.status().message());
      }
    }
  }
  return result;
}

}  // namespace matcache
