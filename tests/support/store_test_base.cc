#include "tests/support/store_test_base.h"

#include <sys/stat.h>

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"

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
  absl::StatusOr<std::shared_ptr<const SegmentData>> mapped = segment.MapData();
  if (!mapped.ok()) return false;
  const int64_t* data = reinterpret_cast<const int64_t*>((*mapped)->data());
  return std::all_of(data, data + kCount,
                     [value](int64_t v) { return v == value; });
}

int64_t StoreTestBase::PeakUsedBytesDuringConcurrentPuts(Store& store,
                                                         int writers) {
  std::vector<std::thread> threads;
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < 30; ++i) {
        EXPECT_TRUE(PutFilled(store, absl::StrCat("m", t, "-", i % 5), i).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  return store.Stats().peak_used_bytes;
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

int64_t StoreTestBase::SegmentFileBytes() const {
  int64_t total = 0;
  for (const std::string& file : SegmentFiles()) {
    struct stat st;
    if (stat(PathOf(file).c_str(), &st) == 0) total += st.st_size;
  }
  return total;
}

}  // namespace matcache::testing
