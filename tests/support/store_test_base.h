// StoreTestBase: a fixture for tests that run a Store in a temporary
// directory, with helpers to publish and check int64 matrices.
#ifndef MATCACHE_TESTS_SUPPORT_STORE_TEST_BASE_H_
#define MATCACHE_TESTS_SUPPORT_STORE_TEST_BASE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "server/core/cache/store.h"
#include "tests/support/temp_dir.h"

namespace matcache::testing {

class StoreTestBase : public ::testing::Test {
 public:
  // Elements in every matrix PutFilled publishes.
  static constexpr int64_t kCount = 1024;

 protected:
  // Options for a store in the temporary directory, namespace "t".
  StoreOptions Options() const;
  // Opens a store with `options` (default Options()); a failure fails the
  // test and returns nullptr.
  std::unique_ptr<Store> OpenStore();
  std::unique_ptr<Store> OpenStore(const StoreOptions& options);

  // Publishes kCount int64 elements all equal to `value` under `name`.
  static absl::StatusOr<MatrixInfo> PutFilled(Store& store,
                                              const std::string& name,
                                              int64_t value);
  // True if all kCount elements of `segment` equal `value`.
  static bool AllEqual(const Segment& segment, int64_t value);

  // Runs `writers` threads that each PutFilled 30 times (names m<t>-<i % 5>)
  // and expect every put to succeed; returns Stats().peak_used_bytes after
  // them: the most bytes ever counted, however briefly.
  static int64_t PeakUsedBytesDuringConcurrentPuts(Store& store, int writers);

  std::string PathOf(const std::string& file) const;
  // Directory entries other than the namespace lock and retention file,
  // sorted.
  std::vector<std::string> SegmentFiles() const;
  // Sum of the sizes of SegmentFiles().
  int64_t SegmentFileBytes() const;

  ScopedTempDir dir_;
};

}  // namespace matcache::testing

#endif  // MATCACHE_TESTS_SUPPORT_STORE_TEST_BASE_H_
