// GET /v1/matrices/{name}/preview: the same downsampled preview as the gRPC
// Preview stream, as an .npy file or a colour-mapped PNG heatmap.
#ifndef MATCACHE_SERVER_HTTP_PREVIEW_RESPONSE_H_
#define MATCACHE_SERVER_HTTP_PREVIEW_RESPONSE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/storage/segment.h"
#include "server/http/response_maker.h"

namespace matcache {

// Checks `query` against `segment` and returns what makes its response:
// `shape` (required, "R" or "RxC[x...]", see
// Previewer), `method` mean (default), min, max or first, `format` npy
// (default) or png. A PNG needs a 2-D, non-complex result: C pixels wide
// and R high, row 0 at the top, values mapped through `colormap` (viridis,
// the default, magma or gray) between `vmin` and `vmax` (default: the
// finite minimum and maximum of the preview, or the bound given if every
// value lies beyond it), NaN transparent. Computed with `threads` threads
// when the maker is called. INVALID_ARGUMENT naming the parameter for a
// malformed, missing or unknown one, vmin above vmax, a preview Previewer
// refuses, or a PNG of a preview that cannot be one (not 2-D, complex, or
// with an empty side).
absl::StatusOr<HttpResponseMaker> PreviewResponse(
    const std::shared_ptr<const Segment>& segment,
    const std::map<std::string, std::string>& query, int threads);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_PREVIEW_RESPONSE_H_
