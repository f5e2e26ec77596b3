// The read-only Zarr v2 view of the store: a group holding every matrix as
// an array, for readers such as zarr-python, dask and xarray over HTTP.
// Keys, relative to /zarr:
//   .zgroup               {"zarr_format": 2}
//   .zattrs               {}
//   .zmetadata            consolidated metadata: .zgroup, .zattrs and every
//                         published matrix's .zarray and .zattrs. Matrices
//                         registered from a source but not read yet are
//                         left out (listing them would read every source).
//   NAME/.zarray          the layout of zarr_layout.h: uncompressed chunks
//                         of whole rows
//   NAME/.zattrs          {"generation", "id" (hex), "name"}
//   NAME/I.0...           a chunk, sent straight from the segment's
//                         mapping (kept while the client downloads it), the
//                         last one padded with zeros
// "" and "/" (the group itself, not a key) are 404, as is any other key,
// including a chunk key outside the grid: Zarr reads a missing key as
// fill_value, which is right only outside the grid.
//
// NAME names the current version at each request, so a reader that crosses
// a replace may mix chunks of two versions. NAME@GEN (GEN the decimal
// generation from .zattrs) names that generation only: its keys are 404
// from the moment it is no longer current (zarr-python then reads its
// chunks as fill_value, so a reader checks .zattrs again after reading). A
// matrix registered from a source is read on its first per-matrix request.
#ifndef MATCACHE_SERVER_HTTP_ZARR_VIEW_H_
#define MATCACHE_SERVER_HTTP_ZARR_VIEW_H_

#include "absl/strings/string_view.h"
#include "server/core/cache/store.h"
#include "server/http/http_server.h"

namespace matcache {

// GET /zarr{path}: `path` is what follows "/zarr": "", "/", "/.zgroup",
// "/.zattrs", "/.zmetadata", "/NAME/.zarray", "/NAME/.zattrs", "/NAME/0.0",
// "/NAME@GEN/.zarray", ... Errors are problem responses: 404 for a missing
// key, matrix or generation, 400 for a malformed name or generation.
HttpResponse ZarrResponse(Store* store, absl::string_view path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_ZARR_VIEW_H_
