// Fuzzes the checks on matrix names and namespaces, and the parsing of
// segment file names found in the shm directory: whatever the input, a name
// that passes has only allowed characters, builds file names that parse
// back to it, and a parsed file name yields a valid name (none for a
// spare).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_checks.h"
#include "server/core/format/name.h"
#include "server/core/storage/segment_file_name.h"

namespace {

using matcache_fuzz::Check;

constexpr absl::string_view kNamespace = "matcache";

void CheckRoundTrip(const std::string& file_name, const std::string& name,
                    matcache::SegmentFileKind kind, uint64_t number) {
  std::optional<matcache::SegmentFileName> parsed =
      matcache::ParseSegmentFileName(kNamespace, file_name);
  Check(parsed.has_value() && parsed->name == name && parsed->kind == kind &&
        parsed->number == number);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  if (matcache::ValidateName(input).ok()) {
    Check(!input.empty() && input.size() <= matcache::kMaxNameLength &&
          input.front() != '.' && input.find('/') == std::string::npos);
    CheckRoundTrip(matcache::PublishedFileName(kNamespace, input, 7), input,
                   matcache::SegmentFileKind::kPublished, 7);
    CheckRoundTrip(matcache::StagingFileName(kNamespace, input, 1), input,
                   matcache::SegmentFileKind::kStaging, 1);
  }
  if (matcache::ValidateNamespace(input).ok()) {
    Check(input.find('.') == std::string::npos &&
          input.find('/') == std::string::npos);
  }
  std::optional<matcache::SegmentFileName> parsed =
      matcache::ParseSegmentFileName(kNamespace, input);
  if (parsed.has_value()) {
    Check(parsed->number > 0);
    Check(parsed->kind == matcache::SegmentFileKind::kSpare
              ? parsed->name.empty()
              : matcache::ValidateName(parsed->name).ok());
  }
  return 0;
}
