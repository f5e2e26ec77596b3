// GET / and /status/...: the status page (server/http/status_page/), open
// like /healthz: it holds no data of its own and reads everything through
// the API, with the token its user gives.
#ifndef MATCACHE_SERVER_HTTP_STATUS_PAGE_H_
#define MATCACHE_SERVER_HTTP_STATUS_PAGE_H_

#include <optional>

#include "absl/strings/string_view.h"
#include "server/http/http_server.h"

namespace matcache {

// The page's file at `path` ("/" is index.html; "/status/viridis.json" is
// the PNG heatmaps' colormap as 256 [r, g, b] entries), or nullopt.
std::optional<HttpResponse> StatusPageFile(absl::string_view path);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_STATUS_PAGE_H_
