#include "tests/support/store_test_base.h"

#include <algorithm>

namespace matcache::testing {

StoreOptions StoreTestBase::Options() const {
  StoreOptions options;
  options.shm_dir = dir_.path();
  options.name_space = "t";
  return options;
}

std::unique_ptr<Store> StoreTestBase::OpenStore() { return OpenStore(Options()); }

std::unique_ptr<Store> StoreTestBase::OpenStore(const StoreOptions& options) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

absl::StatusOr<MatrixInfo> StoreTestBase::PutFilled(Store& store,
                                                    const std::string& name,
                                                    int64_t value) {
  absl::StatusOr<StagingWrite> write =
      store.BeginWrite(name, {kCount}, DType::kInt64, Segment::Prefault::kYes);
  if (!write.ok()) return write.status();
  int64_t* data = reinterpret_cast<int64_t*>(write->segment->mutable_data());
  std::fill(data, data + kCount, value);
  return store.Commit(write->write_id);
}

bool StoreTestBase::AllEqual(const Segment& segment, int64_t value) {
  const int64_t* data = reinterpret_cast<const int64_t*>(segment.data());
  return std::all_of(data, data + kCount,
                     [value](int64_t v) { return v == value; });
}

std::string StoreTestBase::PathOf(const std::string& file) const {
  return dir_.path() + "/" + file;
}

std::vector<std::string> StoreTestBase::SegmentFiles() const {
  std::vector<std::string> files = dir_.Entries();
  for (const char* bookkeeping : {"t.lock", "t.retention"}) {
    files.erase(std::remove(files.begin(), files.end(), bookkeeping), files.end());
  }
  return files;
}

}  // namespace matcache::testing
