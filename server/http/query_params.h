// The query parameters of one HTTP request, taken one by one, so that any
// left over (a typo, a parameter of another route) is refused by name.
#ifndef MATCACHE_SERVER_HTTP_QUERY_PARAMS_H_
#define MATCACHE_SERVER_HTTP_QUERY_PARAMS_H_

#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace matcache {

class QueryParams {
 public:
  explicit QueryParams(const std::map<std::string, std::string>& query)
      : left_(query) {}

  // The value of `name`, if sent, which then counts as used.
  std::optional<std::string> Take(absl::string_view name);

  // INVALID_ARGUMENT naming the first parameter not taken, listing
  // `accepted` (e.g. "slice, dtype, format"; "" for a route that takes
  // none).
  absl::Status CheckAllTaken(absl::string_view accepted) const;

 private:
  std::map<std::string, std::string> left_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_QUERY_PARAMS_H_
