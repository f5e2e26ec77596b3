// Quoting user text in error messages.
#ifndef MATCACHE_SERVER_HTTP_QUOTED_H_
#define MATCACHE_SERVER_HTTP_QUOTED_H_

#include <string>

#include "absl/strings/string_view.h"

namespace matcache {

// `text` in double quotes, C-escaped, cut after 64 characters ("...").
std::string Quoted(absl::string_view text);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_QUOTED_H_
