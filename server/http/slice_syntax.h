// numpy basic indexing as a query parameter spells it: the text between
// Python's brackets, without spaces, e.g. "0,::2" or "...,-1".
#ifndef MATCACHE_SERVER_HTTP_SLICE_SYNTAX_H_
#define MATCACHE_SERVER_HTTP_SLICE_SYNTAX_H_

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/core/array/slice.h"

namespace matcache {

// Longest slice text ParseSlice accepts.
inline constexpr size_t kMaxSliceTextLength = 4096;

// Parses comma-separated items, each a decimal integer ("-3"), a slice
// "start:stop:step" whose parts may each be empty (":", "::2", "5:1:-1"),
// or "..." (at most once). Returns one Index per dimension the items name,
// "..." expanded to Index::All() for the ndim minus (other items)
// dimensions it covers, possibly none. "" means everything and gives an
// empty vector; a trailing comma ("0,") is allowed, as in numpy.
//
// Only parses: bounds, steps of 0 and out-of-range integers are left to
// ResolveIndices. INVALID_ARGUMENT, quoting the text and naming the problem,
// for whitespace, an empty item, a part that is not an integer or does not
// fit in int64, more than 3 parts, two "...", more items than `ndim`, or
// text longer than kMaxSliceTextLength.
absl::StatusOr<std::vector<Index>> ParseSlice(absl::string_view text,
                                              size_t ndim);

}  // namespace matcache

#endif  // MATCACHE_SERVER_HTTP_SLICE_SYNTAX_H_
