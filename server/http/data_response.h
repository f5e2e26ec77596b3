// GET /v1/matrices/{name}/data: the elements of one version, or of a slice
// of it, as an .npy file streamed from the segment or as JSON.
#ifndef MATCACHE_SERVER_HTTP_DATA_RESPONSE_H_
#define MATCACHE_SERVER_HTTP_DATA_RESPONSE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/core/storage/segment.h"
#include "server/http/response_maker.h"

namespace matcache {

// Checks `query` against `segment` and returns what makes its response:
// `slice` (numpy basic indexing as between
// Python's brackets, see ParseSlice; default everything), `dtype` (a numpy
// name: the elements converted as astype does; default the stored one),
// `format` npy (default: application/x-npy with an exact Content-Length,
// streamed from `segment`, which the body keeps mapped) or json
// ({"name", "generation", "shape", "dtype", "data"}, data as nested lists,
// NaN and infinities as null, complex numbers as [re, im]).
// INVALID_ARGUMENT, naming the parameter, for a malformed or unknown one,
// an index out of range, or a JSON response of more than
// `json_max_elements` elements; the maker reads nothing before it is called.
absl::StatusOr<HttpResponseMaker> DataResponse(
    std::shared_ptr<const Segment> segment,
    const std::map<std::string, std::string>& query, int64_t json_max_elements);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_DATA_RESPONSE_H_
