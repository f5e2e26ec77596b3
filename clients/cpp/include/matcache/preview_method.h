// PreviewMethod: how a preview reduces each block of a matrix to one value:
// its mean, min, max (NaN wins, as in numpy) or first element.
#ifndef MATCACHE_PREVIEW_METHOD_H_
#define MATCACHE_PREVIEW_METHOD_H_

namespace matcache {

enum class PreviewMethod { kMean, kMin, kMax, kFirst };

}  // namespace matcache

#endif  // MATCACHE_PREVIEW_METHOD_H_
