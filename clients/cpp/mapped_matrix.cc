#include "clients/cpp/mapped_matrix.h"

#include <utility>

namespace matcache {

absl::StatusOr<MappedMatrix> MappedMatrix::Open(const MatrixInfo& info) {
  absl::StatusOr<Segment> segment =
      Segment::OpenReadOnly(info.path, Segment::Verify::kHeaderOnly);
  if (!segment.ok()) return segment.status();
  if (segment->header().id != info.id) {
    return absl::FailedPreconditionError(absl::StrCat(
        info.path, " is not generation ", info.generation, " of \"",
        info.name, "\" (its id differs)"));
  }
  return MappedMatrix(info, *std::move(segment));
}

}  // namespace matcache
