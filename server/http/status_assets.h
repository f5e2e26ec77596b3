// The status page's files (server/http/status_page/), compiled into
// matcached: index.html at "/", the rest at "/status/NAME".
#ifndef MATCACHE_SERVER_HTTP_STATUS_ASSETS_H_
#define MATCACHE_SERVER_HTTP_STATUS_ASSETS_H_

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace matcache {

struct StatusAsset {
  const char* path;          // the URL path it is served at
  const char* content_type;
  absl::string_view body;
};

absl::Span<const StatusAsset> StatusAssets();

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_STATUS_ASSETS_H_
