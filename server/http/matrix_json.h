// MatrixInfo as the HTTP gateway shows it: JSON with numpy dtype names,
// the id in hex and times in RFC 3339.
#ifndef MATCACHE_SERVER_HTTP_MATRIX_JSON_H_
#define MATCACHE_SERVER_HTTP_MATRIX_JSON_H_

#include <string>

#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "server/core/cache/matrix_info.h"
#include "server/http/http_server.h"

namespace matcache {

// "2026-12-01T22:14:49.123Z" (UTC, as many fractional digits as needed).
std::string Rfc3339(absl::Time time);

// `name`, `shape`, `dtype`, `original_dtype`, `nbytes`, `generation`, `id`
// (hex, "" until loaded), `created`, `last_access` and `expires` (RFC 3339
// or null),
// `pinned`, `source`.
nlohmann::json MatrixInfoJson(const MatrixInfo& info);

// A 200 application/json response holding `json`.
HttpResponse JsonResponse(const nlohmann::json& json);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_MATRIX_JSON_H_
