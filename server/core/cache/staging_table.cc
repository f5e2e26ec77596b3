#include "server/core/cache/staging_table.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/core/base/logging.h"
#include "server/core/base/status_macros.h"

namespace matcache {
namespace {

absl::Status NoSuchWrite(absl::string_view write_id) {
  if (write_id.size() != 32 ||
      write_id.find_first_not_of("0123456789abcdef") != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "malformed lease: expected the 32 hex digits Create returned");
  }
  return absl::NotFoundError(absl::StrCat(
      "no staging write ", write_id, " (never begun, committed, aborted or expired)"));
}

}  // namespace

void StagingTable::BeginCreating(int64_t data_bytes) {
  ++creating_.count;
  creating_.data_bytes += data_bytes;
}

void StagingTable::FinishCreating(int64_t data_bytes, const std::string& write_id,
                                  std::shared_ptr<Segment> segment,
                                  absl::Time lease_deadline, Retention retention) {
  --creating_.count;
  creating_.data_bytes -= data_bytes;
  if (segment == nullptr) return;
  entries_.emplace(write_id, Entry{std::move(segment), lease_deadline, retention,
                                   /*committing=*/false,
                                   /*handed_to=*/std::nullopt});
}

absl::StatusOr<int> StagingTable::HandOut(absl::string_view write_id, uid_t uid) {
  auto it = entries_.find(write_id);
  if (it == entries_.end()) return NoSuchWrite(write_id);
  Entry& entry = it->second;
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
  // Under the store's lock: Commit cannot begin freezing the file meanwhile.
  ASSIGN_OR_RETURN(const int fd, entry.segment->OpenForWriting());
  entry.handed_to = uid;
  return fd;
}

absl::StatusOr<std::shared_ptr<Segment>> StagingTable::StartCommit(
    absl::string_view write_id) {
  auto it = entries_.find(write_id);
  if (it == entries_.end()) return NoSuchWrite(write_id);
  if (it->second.committing) {
    return absl::FailedPreconditionError(
        absl::StrCat("staging write ", write_id, " is already being committed"));
  }
  it->second.committing = true;
  return it->second.segment;
}

Retention StagingTable::FinishCommit(absl::string_view write_id) {
  Retention retention;
  if (auto it = entries_.find(write_id); it != entries_.end()) {
    retention = it->second.retention;
    entries_.erase(it);
  }
  return retention;
}

absl::StatusOr<std::shared_ptr<Segment>> StagingTable::Remove(
    absl::string_view write_id) {
  auto it = entries_.find(write_id);
  if (it == entries_.end()) return NoSuchWrite(write_id);
  if (it->second.committing) {
    return absl::FailedPreconditionError(absl::StrCat(
        "staging write ", write_id, " is being committed; too late to abort"));
  }
  std::shared_ptr<Segment> segment = std::move(it->second.segment);
  entries_.erase(it);
  return segment;
}

absl::Status StagingTable::Renew(absl::string_view write_id,
                                 absl::Time lease_deadline) {
  auto it = entries_.find(write_id);
  if (it == entries_.end()) return NoSuchWrite(write_id);
  it->second.lease_deadline = lease_deadline;
  return absl::OkStatus();
}

std::vector<std::shared_ptr<Segment>> StagingTable::TakeExpired(absl::Time now) {
  std::vector<std::shared_ptr<Segment>> expired;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (!it->second.committing && it->second.lease_deadline < now) {
      expired.push_back(std::move(it->second.segment));
      entries_.erase(it++);
    } else {
      ++it;
    }
  }
  return expired;
}

void StagingTable::UnlinkAll() {
  for (auto& [write_id, entry] : entries_) {
    absl::Status status = entry.segment->Unlink();
    if (!status.ok()) LogWarning("%s", status.message());
  }
  entries_.clear();
}

int64_t StagingTable::count() const {
  return static_cast<int64_t>(entries_.size()) + creating_.count;
}

int64_t StagingTable::data_bytes() const {
  int64_t bytes = creating_.data_bytes;
  for (const auto& [write_id, entry] : entries_) {
    bytes += static_cast<int64_t>(entry.segment->header().data_length);
  }
  return bytes;
}

}  // namespace matcache
