#include "matcache/mapped_matrix.h"

#include <memory>
#include <utility>

#include "server/core/storage/segment.h"

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
  absl::StatusOr<std::shared_ptr<const SegmentData>> data = segment->MapData();
  if (!data.ok()) return data.status();
  const void* bytes = (*data)->data();
  return MappedMatrix(info, *std::move(data), bytes);
}

}  // namespace matcache
