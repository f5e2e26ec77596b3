// The spare file a Store keeps ready for the next write (spare_bytes).
#include <grp.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/cache/store.h"
#include "tests/support/store_test_base.h"

namespace matcache {
namespace {

using ::testing::IsEmpty;

// Header plus data of every matrix PutFilled publishes.
constexpr int64_t kFileBytes = 4096 + testing::StoreTestBase::kCount * 8;

class StoreSpareTest : public testing::StoreTestBase {
 protected:
  StoreOptions SpareOptions(int64_t spare_bytes) const {
    StoreOptions options = Options();
    options.spare_bytes = spare_bytes;
    return options;
  }

  // The spare files in the directory.
  std::vector<std::string> SpareFiles() const {
    std::vector<std::string> spares;
    for (const std::string& file : SegmentFiles()) {
      if (absl::EndsWith(file, ".spare.shm")) spares.push_back(file);
    }
    return spares;
  }

  // Waits until the store reports a ready spare of `bytes` and its one file
  // has that size; returns the file's path, or "" after 10 s.
  std::string WaitForSpare(const Store& store, int64_t bytes) const {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      std::vector<std::string> spares = SpareFiles();
      struct stat st;
      if (store.Stats().spare_bytes == bytes && spares.size() == 1 &&
          stat(PathOf(spares[0]).c_str(), &st) == 0 && st.st_size == bytes &&
          st.st_blocks * 512 >= bytes) {
        return PathOf(spares[0]);
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    ADD_FAILURE() << "no spare of " << bytes << " bytes; spare_bytes is "
                  << store.Stats().spare_bytes;
    return "";
  }

  // Waits until the spare thread has done all that was asked of it (at most
  // 10 s): what the directory holds then stays until the next write.
  static void WaitUntilSpareSettles(const Store& store) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (store.Stats().spare_pending && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_FALSE(store.Stats().spare_pending) << "the spare thread is stuck";
  }

  // Free bytes of the filesystem holding the test directory.
  int64_t FreeBytes() const {
    struct statvfs fs;
    EXPECT_EQ(statvfs(dir_.path().c_str(), &fs), 0);
    return static_cast<int64_t>(fs.f_bavail * fs.f_frsize);
  }

  // Publishes "a" (kFileBytes) and waits for the spare of `bytes` that
  // follows; returns its path, or "" after failing the test.
  std::string PutAndWaitForSpare(Store& store, int64_t bytes) const {
    absl::StatusOr<MatrixInfo> put = PutFilled(store, "a", 1);
    if (!put.ok()) {
      ADD_FAILURE() << put.status();
      return "";
    }
    return WaitForSpare(store, bytes);
  }

  static ino_t InodeOf(const std::string& path) {
    struct stat st;
    EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
    return st.st_ino;
  }
};

TEST_F(StoreSpareTest, NoSpareUnlessAsked) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  WaitUntilSpareSettles(*store);
  EXPECT_THAT(SpareFiles(), IsEmpty());
  EXPECT_EQ(store->Stats().spare_bytes, 0);
}

TEST_F(StoreSpareTest, TheNextWriteTakesTheSparesPages) {
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 20));
  const std::string spare = PutAndWaitForSpare(*store, kFileBytes);
  ASSERT_FALSE(spare.empty());
  struct stat st;
  ASSERT_EQ(stat(spare.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(store->Stats().used_bytes, 2 * kFileBytes);
  const ino_t spare_inode = InodeOf(spare);

  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("b", {kCount}, DType::kInt64);
  ASSERT_TRUE(write.ok()) << write.status();
  EXPECT_EQ(InodeOf(write->segment->path()), spare_inode);
  EXPECT_TRUE(absl::EndsWith(write->segment->path(), ".staging.shm"));
  int64_t* data = reinterpret_cast<int64_t*>(write->segment->mutable_data());
  std::fill(data, data + kCount, 7);
  absl::StatusOr<MatrixInfo> b = store->Commit(write->write_id);
  ASSERT_TRUE(b.ok()) << b.status();
  absl::StatusOr<std::shared_ptr<const Segment>> segment = store->Acquire("b");
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_TRUE(AllEqual(**segment, 7));
  EXPECT_EQ((*segment)->header().name, "b");
  // And another spare for the write after it.
  EXPECT_NE(InodeOf(WaitForSpare(*store, kFileBytes)), spare_inode);
  EXPECT_EQ(store->Stats().used_bytes, 3 * kFileBytes);
}

TEST_F(StoreSpareTest, TheNextSpareIsMadeOnlyOnceNoWriteIsUnderWay) {
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 20));
  ASSERT_FALSE(PutAndWaitForSpare(*store, kFileBytes).empty());
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("b", {kCount}, DType::kInt64);
  ASSERT_TRUE(write.ok()) << write.status();
  // Making one would take a few milliseconds; it must not start while the
  // write that took the last one copies and hashes.
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_THAT(SpareFiles(), IsEmpty());
  EXPECT_EQ(store->Stats().spare_bytes, 0);
  EXPECT_TRUE(store->Stats().spare_pending);
  ASSERT_TRUE(store->Commit(write->write_id).ok());
  EXPECT_FALSE(WaitForSpare(*store, kFileBytes).empty());
}

// A group this process may give its files other than its own, if any.
std::optional<gid_t> OtherGroup() {
  if (geteuid() == 0) {
    const group* nogroup = getgrnam("nogroup");
    return nogroup != nullptr ? nogroup->gr_gid : 65534;
  }
  std::vector<gid_t> groups(getgroups(0, nullptr));
  groups.resize(std::max(0, getgroups(groups.size(), groups.data())));
  for (gid_t gid : groups) {
    if (gid != getegid()) return gid;
  }
  return std::nullopt;
}

TEST_F(StoreSpareTest, AStagingFileFromTheSpareGetsTheStagingModeAndGroup) {
  const std::optional<gid_t> group = OtherGroup();
  if (!group.has_value()) GTEST_SKIP() << "no group but our own to give files";
  StoreOptions options = SpareOptions(int64_t{1} << 20);
  options.group = *group;
  std::unique_ptr<Store> store = OpenStore(options);
  const std::string spare = PutAndWaitForSpare(*store, kFileBytes);
  ASSERT_FALSE(spare.empty());
  const ino_t spare_inode = InodeOf(spare);
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("b", {kCount}, DType::kInt64);
  ASSERT_TRUE(write.ok()) << write.status();
  struct stat st;
  ASSERT_EQ(stat(write->segment->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, spare_inode);
  // The server's alone, whatever the group: a client writes it through
  // the descriptor it is handed.
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_gid, *group);
}

TEST_F(StoreSpareTest, ASpareLargerThanTheWriteIsShrunk) {
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 20));
  const std::string spare = PutAndWaitForSpare(*store, kFileBytes);
  ASSERT_FALSE(spare.empty());
  const ino_t spare_inode = InodeOf(spare);
  // 4096 + 4096 bytes: over half the spare's 12288.
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("b", {kCount / 2}, DType::kInt64);
  ASSERT_TRUE(write.ok()) << write.status();
  EXPECT_EQ(InodeOf(write->segment->path()), spare_inode);
  struct stat st;
  ASSERT_EQ(stat(write->segment->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 8192);
  ASSERT_TRUE(store->Commit(write->write_id).ok());
  ASSERT_FALSE(WaitForSpare(*store, 8192).empty());
  EXPECT_EQ(store->Stats().used_bytes, kFileBytes + 2 * 8192);
}

TEST_F(StoreSpareTest, ASpareSmallerThanTheWriteIsExtended) {
  constexpr int64_t kLimit = 8192;
  std::unique_ptr<Store> store = OpenStore(SpareOptions(kLimit));
  const std::string spare = PutAndWaitForSpare(*store, kLimit);
  ASSERT_FALSE(spare.empty());
  const ino_t spare_inode = InodeOf(spare);
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("b", {kCount}, DType::kInt64);
  ASSERT_TRUE(write.ok()) << write.status();
  EXPECT_EQ(InodeOf(write->segment->path()), spare_inode);
  struct stat st;
  ASSERT_EQ(stat(write->segment->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_size, kFileBytes);
  EXPECT_GE(st.st_blocks * 512, kFileBytes);  // preallocated, no holes
  ASSERT_TRUE(store->Commit(write->write_id).ok());
}

TEST_F(StoreSpareTest, ASpareRemovedByHandIsDoneWithout) {
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 20));
  const std::string spare = PutAndWaitForSpare(*store, kFileBytes);
  ASSERT_FALSE(spare.empty());
  const ino_t spare_inode = InodeOf(spare);
  ASSERT_EQ(unlink(spare.c_str()), 0);
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("b", {kCount}, DType::kInt64);
  ASSERT_TRUE(write.ok()) << write.status();
  EXPECT_NE(InodeOf(write->segment->path()), spare_inode);
  ASSERT_TRUE(store->Commit(write->write_id).ok());
  ASSERT_FALSE(WaitForSpare(*store, kFileBytes).empty());
  EXPECT_EQ(store->Stats().used_bytes, 3 * kFileBytes);
}

TEST_F(StoreSpareTest, AWriteOfLessThanHalfLeavesTheSpareForOneOfItsSize) {
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 20));
  const std::string spare = PutAndWaitForSpare(*store, kFileBytes);
  ASSERT_FALSE(spare.empty());
  const ino_t spare_inode = InodeOf(spare);
  // 4096 + 16 bytes: far less than half the spare.
  absl::StatusOr<StagingWrite> small = store->BeginWrite("s", {2}, DType::kInt64);
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_NE(InodeOf(small->segment->path()), spare_inode);
  ASSERT_TRUE(store->Commit(small->write_id).ok());
  EXPECT_FALSE(WaitForSpare(*store, 4096 + 16).empty());
}

TEST_F(StoreSpareTest, NoSpareWithoutRoomForAWriteOfItsSizeBesides) {
  StoreOptions options = SpareOptions(int64_t{1} << 20);
  options.max_bytes = 3 * kFileBytes - 1;
  std::unique_ptr<Store> store = OpenStore(options);
  // Room for a spare beside "a", but not for a write of its size besides.
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  WaitUntilSpareSettles(*store);
  EXPECT_THAT(SpareFiles(), IsEmpty());
  EXPECT_EQ(store->Stats().used_bytes, kFileBytes);
}

TEST_F(StoreSpareTest, WritesThatFitWithoutTheSpareNeverFailAndTheBudgetHolds) {
  StoreOptions options = SpareOptions(int64_t{1} << 20);
  options.max_bytes = 6 * kFileBytes;
  std::unique_ptr<Store> store = OpenStore(options);
  std::mt19937 random(7);
  std::vector<std::string> pending;  // staging writes
  for (int step = 0; step < 300; ++step) {
    const std::string name = absl::StrCat("m", random() % 6);
    if (random() % 3 == 0 && !pending.empty()) {
      const std::string id = pending.back();
      pending.pop_back();
      absl::Status done =
          random() % 2 ? store->Commit(id).status() : store->Abort(id);
      EXPECT_TRUE(done.ok()) << done;
    } else if (random() % 4 == 0) {
      (void)store->Delete(name);
    } else {
      const int64_t count = 1 + random() % (2 * kCount);
      const int64_t bytes = 4096 + count * 8;
      const StoreStats before = store->Stats();
      // What the store holds besides the spare.
      const int64_t held = before.used_bytes - before.spare_bytes;
      absl::StatusOr<StagingWrite> write =
          store->BeginWrite(name, {count}, DType::kInt64);
      if (held + bytes <= options.max_bytes) {
        ASSERT_TRUE(write.ok()) << "step " << step << ": " << write.status();
      } else {
        EXPECT_TRUE(absl::IsResourceExhausted(write.status()))
            << "step " << step << ": " << write.status();
      }
      if (write.ok()) pending.push_back(write->write_id);
    }
    ASSERT_LE(store->Stats().used_bytes, options.max_bytes) << "step " << step;
  }
  for (const std::string& id : pending) ASSERT_TRUE(store->Abort(id).ok());
  // Once the spare thread is idle, the count is exactly what is on disk.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (store->Stats().used_bytes != SegmentFileBytes() &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(store->Stats().used_bytes, SegmentFileBytes());
}

// Begins a write of `bytes` (header included) under `name`.
absl::StatusOr<StagingWrite> BeginBytes(Store& store, const std::string& name,
                                        int64_t bytes) {
  return store.BeginWrite(name, {bytes - 4096}, DType::kUInt8);
}

TEST_F(StoreSpareTest, TheSpareMakesWayEvenWhileItIsReplacedOrMade) {
  // Spares large enough to take a while to free and to make: a write that
  // fits only without the spare must never evict a matrix instead, whatever
  // the spare thread is doing when it comes.
  constexpr int64_t kBig = (int64_t{32} << 20) + 4096;
  ASSERT_GE(FreeBytes(), 8 * kBig) << "needs 256 MiB free in " << dir_.path();
  for (int round = 0; round < 10; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    StoreOptions options = SpareOptions(int64_t{1} << 30);
    options.max_bytes = 3 * kBig;
    options.evict_unsourced = true;
    std::unique_ptr<Store> store = OpenStore(options);
    absl::StatusOr<StagingWrite> a = BeginBytes(*store, "a", kBig);
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE(store->Commit(a->write_id).ok());
    if (round % 2 == 0) {
      ASSERT_FALSE(WaitForSpare(*store, kBig).empty());
    }
    // Too small to take the spare: the spare thread replaces it...
    absl::StatusOr<StagingWrite> small = BeginBytes(*store, "small", 8192);
    ASSERT_TRUE(small.ok()) << small.status();
    // ...while this one, which fits only without it, comes in.
    absl::StatusOr<StagingWrite> c =
        BeginBytes(*store, "c", 3 * kBig - kBig - 8192);
    ASSERT_TRUE(c.ok()) << c.status();
    ASSERT_TRUE(store->Commit(c->write_id).ok());
    EXPECT_EQ(store->Stats().evictions, 0);
    EXPECT_TRUE(store->Contains("a"));
    EXPECT_LE(store->Stats().used_bytes, options.max_bytes);
    ASSERT_TRUE(store->Abort(small->write_id).ok());
    for (const char* name : {"a", "c"}) ASSERT_TRUE(store->Delete(name).ok());
  }
}

TEST_F(StoreSpareTest, ClosingWhileASpareIsMadeLeavesNoFile) {
  constexpr int64_t kBytes = (int64_t{256} << 20) + 4096;
  ASSERT_GE(FreeBytes(), 4 * kBytes) << "needs 1 GiB free in " << dir_.path();
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 30));
  // Asks for a 256 MiB spare, which takes a while to preallocate, and is
  // made once that write is over.
  absl::StatusOr<StagingWrite> write = BeginBytes(*store, "a", kBytes);
  ASSERT_TRUE(write.ok()) << write.status();
  ASSERT_TRUE(store->Abort(write->write_id).ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (store->Stats().spare_bytes == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(store->Stats().spare_bytes, kBytes);
  store.reset();
  EXPECT_THAT(SegmentFiles(), IsEmpty());
}

TEST_F(StoreSpareTest, ConcurrentPutsNeverExceedTheBudget) {
  StoreOptions options = SpareOptions(int64_t{1} << 20);
  options.max_bytes = 8 * kFileBytes;
  options.evict_unsourced = true;
  std::unique_ptr<Store> store = OpenStore(options);
  // Evictions, and giving up the spare, free room for every put.
  EXPECT_LE(PeakUsedBytesDuringConcurrentPuts(*store, 4), 8 * kFileBytes);
  EXPECT_EQ(store->Stats().staging_count, 0);
}

TEST_F(StoreSpareTest, AnIdleStoreGivesItsSpareBack) {
  StoreOptions options = SpareOptions(int64_t{1} << 20);
  options.spare_idle = absl::Seconds(1);
  std::unique_ptr<Store> store = OpenStore(options);
  const absl::Time put = absl::Now();
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  // Until the spare is made and given back: were none made, this would end
  // at once.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  StoreStats stats = store->Stats();
  while ((stats.spare_pending || stats.spare_bytes != 0) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
    stats = store->Stats();
  }
  EXPECT_GE(absl::Now() - put, options.spare_idle);
  EXPECT_EQ(stats.spare_bytes, 0);
  EXPECT_FALSE(stats.spare_pending);
  EXPECT_THAT(SpareFiles(), IsEmpty());
  EXPECT_EQ(stats.used_bytes, kFileBytes);
  // The next write asks for one again.
  ASSERT_TRUE(PutFilled(*store, "b", 2).ok());
  EXPECT_TRUE(store->Stats().spare_pending || store->Stats().spare_bytes > 0);
}

TEST_F(StoreSpareTest, ClosingRemovesTheSpare) {
  std::unique_ptr<Store> store = OpenStore(SpareOptions(int64_t{1} << 20));
  ASSERT_FALSE(PutAndWaitForSpare(*store, kFileBytes).empty());
  store.reset();
  EXPECT_THAT(SpareFiles(), IsEmpty());
  EXPECT_EQ(SegmentFiles().size(), 1u);  // the published matrix
}

TEST_F(StoreSpareTest, RecoveryRemovesLeftoverSparesOnly) {
  std::ofstream(PathOf("t.7.spare.shm")) << "left by a crash";
  std::ofstream(PathOf("u.8.spare.shm")) << "another namespace";
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_EQ(store->recovery_report().spares_removed, 1);
  EXPECT_EQ(access(PathOf("t.7.spare.shm").c_str(), F_OK), -1);
  EXPECT_EQ(access(PathOf("u.8.spare.shm").c_str(), F_OK), 0);
  // Its number is never reused.
  absl::StatusOr<MatrixInfo> put = PutFilled(*store, "a", 1);
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_GT(put->generation, 7u);
}

}  // namespace
}  // namespace matcache
