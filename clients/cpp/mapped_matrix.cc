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
  auto owned = std::make_shared<const Segment>(*std::move(segment));
  const void* data = owned->data();
  return MappedMatrix(info, std::move(owned), data);
}

}  // namespace matcache
