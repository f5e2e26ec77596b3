#include "server/core/storage/segment_file_name.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/core/format/name.h"

namespace matcache {
namespace {

constexpr absl::string_view kPublishedSuffix = ".shm";
constexpr absl::string_view kStagingSuffix = ".staging.shm";
constexpr absl::string_view kSpareSuffix = ".spare.shm";
constexpr absl::string_view kQuarantineSuffix = ".quarantined";

bool IsAllDigits(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

std::string PublishedFileName(absl::string_view name_space,
                              absl::string_view name, uint64_t generation) {
  return absl::StrCat(name_space, ".", name, ".", generation, kPublishedSuffix);
}

std::string StagingFileName(absl::string_view name_space,
                            absl::string_view name, uint64_t sequence) {
  return absl::StrCat(name_space, ".", name, ".", sequence, kStagingSuffix);
}

std::string SpareFileName(absl::string_view name_space, uint64_t sequence) {
  return absl::StrCat(name_space, ".", sequence, kSpareSuffix);
}

std::string QuarantineFileName(absl::string_view file_name) {
  return absl::StrCat(file_name, kQuarantineSuffix);
}

std::optional<SegmentFileName> ParseSegmentFileName(
    absl::string_view name_space, absl::string_view file_name) {
  absl::string_view rest = file_name;
  if (!absl::ConsumePrefix(&rest, name_space) || !absl::ConsumePrefix(&rest, ".")) {
    return std::nullopt;
  }
  SegmentFileName parsed;
  // A published name ends in ".<generation>.shm", never in ".spare.shm".
  if (absl::ConsumeSuffix(&rest, kSpareSuffix)) {
    parsed.kind = SegmentFileKind::kSpare;
    if (!IsAllDigits(rest) || !absl::SimpleAtoi(rest, &parsed.number) ||
        parsed.number == 0) {
      return std::nullopt;
    }
    return parsed;
  }
  if (absl::ConsumeSuffix(&rest, kStagingSuffix)) {
    parsed.kind = SegmentFileKind::kStaging;
  } else if (absl::ConsumeSuffix(&rest, kPublishedSuffix)) {
    parsed.kind = SegmentFileKind::kPublished;
  } else {
    return std::nullopt;
  }
  const size_t dot = rest.rfind('.');
  if (dot == absl::string_view::npos) return std::nullopt;
  absl::string_view number = rest.substr(dot + 1);
  absl::string_view name = rest.substr(0, dot);
  if (!IsAllDigits(number) || !absl::SimpleAtoi(number, &parsed.number) ||
      parsed.number == 0 || !ValidateName(name).ok()) {
    return std::nullopt;
  }
  parsed.name = std::string(name);
  return parsed;
}

}  // namespace matcache
