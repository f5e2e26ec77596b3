#include "server/core/cache/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/format/checksum.h"
#include "tests/support/store_test_base.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

using StoreTest = matcache::testing::StoreTestBase;

TEST_F(StoreTest, CommitPublishesAndInfoDescribesIt) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<MatrixInfo> put = PutFilled(*store, "prices", 5);
  ASSERT_TRUE(put.ok()) << put.status();

  absl::StatusOr<MatrixInfo> info = store->Info("prices");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->name, "prices");
  EXPECT_THAT(info->shape, ElementsAre(kCount));
  EXPECT_THAT(info->strides, ElementsAre(8));
  EXPECT_EQ(info->dtype, DType::kInt64);
  EXPECT_EQ(info->nbytes, kCount * 8);
  EXPECT_EQ(info->generation, put->generation);
  EXPECT_EQ(info->id, put->id);
  EXPECT_EQ(info->data_offset, 4096);
  EXPECT_EQ(info->path, absl::StrCat(dir_.path(), "/t.prices.",
                                     info->generation, ".shm"));
  std::vector<int64_t> expected(kCount, 5);
  // One block: the checksum of the block's checksum.
  const uint64_t block = Checksum(expected.data(), kCount * 8);
  EXPECT_EQ(info->checksum, Checksum(&block, sizeof(block)));
  EXPECT_THAT(SegmentFiles(),
              ElementsAre(absl::StrCat("t.prices.", info->generation, ".shm")));

  struct stat st;
  ASSERT_EQ(stat(info->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
}

TEST_F(StoreTest, StagingFileIsPrivateAndNeverServed) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("m", {8}, DType::kUInt8);
  ASSERT_TRUE(write.ok()) << write.status();
  struct stat st;
  ASSERT_EQ(stat(write->segment->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(write->segment->path(), HasSubstr(".staging.shm"));
  EXPECT_EQ(store->Info("m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->List("").empty());
}

TEST_F(StoreTest, ASharedDirectoryGetsADirectoryOfTheStoresOwn) {
  // As /dev/shm: every user may create files, the sticky bit keeps them
  // from removing others'.
  ASSERT_EQ(chmod(dir_.path().c_str(), 01777), 0);
  std::unique_ptr<Store> store = OpenStore();
  const std::string own = PathOf("t");
  EXPECT_EQ(store->options().shm_dir, own);
  struct stat st;
  ASSERT_EQ(lstat(own.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_EQ(st.st_uid, geteuid());
  absl::StatusOr<MatrixInfo> info = PutFilled(*store, "m", 7);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->path.substr(0, own.size() + 1), own + "/");
  // Nothing but the store's directory in the shared one.
  EXPECT_EQ(dir_.Entries(), std::vector<std::string>{"t"});
  store.reset();
  store = OpenStore();
  EXPECT_TRUE(store->Contains("m"));
}

TEST_F(StoreTest, ADirectoryOthersCouldWriteIsNotTheStoresOwn) {
  ASSERT_EQ(chmod(dir_.path().c_str(), 01777), 0);
  ASSERT_EQ(mkdir(PathOf("t").c_str(), 0777), 0);
  ASSERT_EQ(chmod(PathOf("t").c_str(), 0777), 0);
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(Options());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr(PathOf("t")));
  ASSERT_EQ(rmdir(PathOf("t").c_str()), 0);
  // Nor a symlink to a directory elsewhere.
  matcache::testing::ScopedTempDir elsewhere;
  ASSERT_EQ(symlink(elsewhere.path().c_str(), PathOf("t").c_str()), 0);
  EXPECT_EQ(Store::Open(Options()).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, CommitRefusesAStagingFileStillOpenForWriting) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<StagingWrite> write = store->BeginWrite("m", {8}, DType::kUInt8);
  ASSERT_TRUE(write.ok()) << write.status();
  // A writer that would keep the power to change the data once published.
  const int writer = open(write->segment->path().c_str(), O_RDWR);
  ASSERT_GE(writer, 0);
  absl::Status committed = store->Commit(write->write_id).status();
  close(writer);
  EXPECT_EQ(committed.code(), absl::StatusCode::kFailedPrecondition) << committed;
  EXPECT_EQ(store->Info("m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(SegmentFiles(), IsEmpty());
  EXPECT_EQ(store->Stats().used_bytes, 0);
}

TEST_F(StoreTest, AStagingFileIsHandedOutOnceAndCommitWaitsForItsClose) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<StagingWrite> write = store->BeginWrite("m", {8}, DType::kUInt8);
  ASSERT_TRUE(write.ok()) << write.status();
  absl::StatusOr<int> fd = store->OpenStagingForClient(write->write_id, 4242);
  ASSERT_TRUE(fd.ok()) << fd.status();
  absl::StatusOr<int> again = store->OpenStagingForClient(write->write_id, 7);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(again.status().message(), HasSubstr("handed out already (to uid 4242)"));
  EXPECT_EQ(store->OpenStagingForClient(std::string(32, 'a'), 7).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->OpenStagingForClient("guess", 7).status().code(),
            absl::StatusCode::kInvalidArgument);

  ASSERT_EQ(pwrite(*fd, "abcdefgh", 8, kHeaderSize), 8);
  close(*fd);
  absl::StatusOr<MatrixInfo> info = store->Commit(write->write_id);
  ASSERT_TRUE(info.ok()) << info.status();
  absl::StatusOr<std::shared_ptr<const Segment>> published = store->Acquire("m");
  ASSERT_TRUE(published.ok()) << published.status();
  absl::StatusOr<std::shared_ptr<const SegmentData>> data =
      (*published)->MapData();
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(std::string((*data)->data(), 8), "abcdefgh");
  EXPECT_EQ(store->OpenStagingForClient(write->write_id, 7).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, CommitRefusesWhileAHandedOutStagingFileIsOpen) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<StagingWrite> write = store->BeginWrite("m", {8}, DType::kUInt8);
  ASSERT_TRUE(write.ok()) << write.status();
  absl::StatusOr<int> fd = store->OpenStagingForClient(write->write_id, 0);
  ASSERT_TRUE(fd.ok()) << fd.status();
  absl::Status committed = store->Commit(write->write_id).status();
  close(*fd);
  EXPECT_EQ(committed.code(), absl::StatusCode::kFailedPrecondition) << committed;
  EXPECT_THAT(SegmentFiles(), IsEmpty());
  EXPECT_EQ(store->Stats().used_bytes, 0);
}

TEST_F(StoreTest, CommitRefusesAStagingFileWithAHole) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<StagingWrite> write =
      store->BeginWrite("m", {1 << 20}, DType::kUInt8);
  ASSERT_TRUE(write.ok()) << write.status();
  const int writer = open(write->segment->path().c_str(), O_RDWR);
  ASSERT_GE(writer, 0);
  ASSERT_EQ(fallocate(writer, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                      1 << 16, 1 << 16),
            0);
  close(writer);
  absl::Status committed = store->Commit(write->write_id).status();
  EXPECT_EQ(committed.code(), absl::StatusCode::kDataLoss) << committed;
  EXPECT_THAT(SegmentFiles(), IsEmpty());
}

TEST_F(StoreTest, RecoveredSegmentsGetTheCurrentGroupAndMode) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give files to any group";
  absl::StatusOr<MatrixInfo> info;
  {
    std::unique_ptr<Store> store = OpenStore();
    info = PutFilled(*store, "m", 1);
    ASSERT_TRUE(info.ok()) << info.status();
  }
  StoreOptions options = Options();
  options.group = 65534;
  options.published_mode = 0440;
  std::unique_ptr<Store> store = OpenStore(options);
  struct stat st;
  ASSERT_EQ(stat(info->path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0440u);
  EXPECT_EQ(st.st_gid, 65534u);
}

TEST_F(StoreTest, RefusesNamespaceFilesOthersCouldHavePlanted) {
  for (const char* file : {"t.retention", "t.sources"}) {
    std::ofstream(PathOf(file)) << "m 1 1 -\n";
    ASSERT_EQ(chmod(PathOf(file).c_str(), 0666), 0);
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(Options());
    EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition)
        << file;
    EXPECT_THAT(store.status().message(), HasSubstr(file));
    ASSERT_EQ(unlink(PathOf(file).c_str()), 0);
  }
  if (geteuid() == 0) {
    std::ofstream(PathOf("t.lock")) << "";
    ASSERT_EQ(chown(PathOf("t.lock").c_str(), 65534, 65534), 0);
    EXPECT_EQ(Store::Open(Options()).status().code(),
              absl::StatusCode::kFailedPrecondition);
    ASSERT_EQ(unlink(PathOf("t.lock").c_str()), 0);
  }
  EXPECT_TRUE(Store::Open(Options()).ok());
}

TEST_F(StoreTest, RefusesADirectoryWhereOthersCouldRemoveSegments) {
  StoreOptions options = Options();
  ASSERT_EQ(chmod(options.shm_dir.c_str(), 0777), 0);
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("sticky"));
  ASSERT_EQ(chmod(options.shm_dir.c_str(), 01777), 0);
  EXPECT_TRUE(Store::Open(options).ok());
}

TEST_F(StoreTest, ReplaceKeepsOldMappingsAndOneFilePerName) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<MatrixInfo> first = PutFilled(*store, "m", 1);
  ASSERT_TRUE(first.ok());
  absl::StatusOr<std::shared_ptr<const Segment>> old = store->Acquire("m");
  ASSERT_TRUE(old.ok());

  absl::StatusOr<MatrixInfo> second = PutFilled(*store, "m", 2);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_GT(second->generation, first->generation);
  EXPECT_NE(second->id, first->id);

  EXPECT_TRUE(AllEqual(**old, 1));
  absl::StatusOr<std::shared_ptr<const Segment>> current = store->Acquire("m");
  ASSERT_TRUE(current.ok());
  EXPECT_TRUE(AllEqual(**current, 2));
  absl::StatusOr<Segment> reopened =
      Segment::OpenReadOnly(second->path, Segment::Verify::kChecksum);
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  EXPECT_TRUE(AllEqual(*reopened, 2));
  EXPECT_THAT(SegmentFiles(),
              ElementsAre(absl::StrCat("t.m.", second->generation, ".shm")));
}

TEST_F(StoreTest, AbortLeavesNoFile) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<StagingWrite> write = store->BeginWrite("m", {8}, DType::kInt8);
  ASSERT_TRUE(write.ok());
  EXPECT_EQ(SegmentFiles().size(), 1u);
  ASSERT_TRUE(store->Abort(write->write_id).ok());
  EXPECT_TRUE(SegmentFiles().empty());
  EXPECT_EQ(store->Commit(write->write_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Abort(write->write_id).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Info("m").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ExpiredLeasesAreAbortedAndOthersKept) {
  std::unique_ptr<Store> store = OpenStore();
  const absl::Time now = absl::Now();
  absl::StatusOr<StagingWrite> expiring = store->BeginWrite(
      "a", {8}, DType::kInt8, Segment::Prefault::kNo, now + absl::Seconds(1));
  absl::StatusOr<StagingWrite> lasting = store->BeginWrite(
      "b", {8}, DType::kInt8, Segment::Prefault::kNo, now + absl::Hours(1));
  absl::StatusOr<StagingWrite> unleased = store->BeginWrite("c", {8}, DType::kInt8);
  ASSERT_TRUE(expiring.ok() && lasting.ok() && unleased.ok());

  EXPECT_EQ(store->AbortExpired(now), 0);
  EXPECT_EQ(SegmentFiles().size(), 3u);
  EXPECT_EQ(store->AbortExpired(now + absl::Seconds(2)), 1);
  EXPECT_EQ(SegmentFiles().size(), 2u);
  EXPECT_EQ(store->Commit(expiring->write_id).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Commit(lasting->write_id).ok());
  EXPECT_TRUE(store->Commit(unleased->write_id).ok());
}

TEST_F(StoreTest, FailedFallocateLeavesNoFile) {
  StoreOptions options = Options();
  options.max_matrix_bytes = std::numeric_limits<int64_t>::max();
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  struct statvfs fs;
  ASSERT_EQ(statvfs(dir_.path().c_str(), &fs), 0);
  const int64_t too_many = static_cast<int64_t>(fs.f_blocks * fs.f_frsize) + 1;
  absl::StatusOr<StagingWrite> write =
      (*store)->BeginWrite("huge", {too_many}, DType::kUInt8);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(SegmentFiles().empty());
  EXPECT_EQ((*store)->Stats().staging_count, 0);
}

TEST_F(StoreTest, PerMatrixLimitIsEnforcedBeforeAnyFileExists) {
  StoreOptions options = Options();
  options.max_matrix_bytes = 1024;
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  absl::StatusOr<StagingWrite> write =
      (*store)->BeginWrite("m", {129}, DType::kFloat64);
  EXPECT_EQ(write.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(write.status().message(), HasSubstr("1032 bytes"));
  EXPECT_TRUE(SegmentFiles().empty());
  EXPECT_TRUE((*store)->BeginWrite("m", {128}, DType::kFloat64).ok());
}

TEST_F(StoreTest, BadInputIsRefusedWithoutSideEffects) {
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_EQ(store->BeginWrite("../x", {1}, DType::kInt8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->BeginWrite("m", {-1}, DType::kInt8).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Info("a/b").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Delete("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(SegmentFiles().empty());
}

TEST_F(StoreTest, ListFiltersByPrefixInNameOrder) {
  std::unique_ptr<Store> store = OpenStore();
  for (const char* name : {"b.2", "a", "b.1", "c", "b"}) {
    ASSERT_TRUE(PutFilled(*store, name, 0).ok());
  }
  std::vector<std::string> names;
  for (const MatrixInfo& info : store->List("b")) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("b", "b.1", "b.2"));
  EXPECT_EQ(store->List("").size(), 5u);

  names.clear();
  for (const MatrixInfo& info : store->List("b", "b", 1)) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("b.1"));
  names.clear();
  for (const MatrixInfo& info : store->List("", "b.1", 10)) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("b.2", "c"));
  EXPECT_TRUE(store->List("z").empty());
}

TEST_F(StoreTest, DeleteRemovesTheFileButNotReadersPages) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<MatrixInfo> put = PutFilled(*store, "m", 9);
  ASSERT_TRUE(put.ok());
  absl::StatusOr<std::shared_ptr<const Segment>> held = store->Acquire("m");
  ASSERT_TRUE(held.ok());

  absl::Status stale = store->Delete("m", put->generation + 1);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store->Info("m").ok());

  ASSERT_TRUE(store->Delete("m", put->generation).ok());
  EXPECT_TRUE(SegmentFiles().empty());
  EXPECT_EQ(store->Info("m").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Delete("m").code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(AllEqual(**held, 9));
}

TEST_F(StoreTest, OnlyOneStorePerNamespace) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<std::unique_ptr<Store>> second = Store::Open(Options());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("another process"));

  StoreOptions other = Options();
  other.name_space = "u";
  EXPECT_TRUE(Store::Open(other).ok());
}

TEST_F(StoreTest, OpenRefusesBadOptions) {
  StoreOptions options = Options();
  options.name_space = "a.b";
  EXPECT_EQ(Store::Open(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = Options();
  options.shm_dir = dir_.path() + "/missing";
  EXPECT_EQ(Store::Open(options).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ClosingRemovesStagingAndReopeningKeepsPublished) {
  MatrixInfo published;
  {
    std::unique_ptr<Store> store = OpenStore();
    absl::StatusOr<MatrixInfo> put = PutFilled(*store, "kept", 3);
    ASSERT_TRUE(put.ok());
    published = *put;
    ASSERT_TRUE(store->BeginWrite("pending", {16}, DType::kInt8).ok());
    EXPECT_EQ(SegmentFiles().size(), 2u);
  }
  EXPECT_EQ(SegmentFiles().size(), 1u);

  std::unique_ptr<Store> store = OpenStore();
  EXPECT_EQ(store->recovery_report().adopted, 1);
  absl::StatusOr<MatrixInfo> info = store->Info("kept");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->generation, published.generation);
  EXPECT_EQ(info->id, published.id);
  EXPECT_EQ(info->checksum, published.checksum);
  // New generations continue above the recovered ones.
  absl::StatusOr<MatrixInfo> next = PutFilled(*store, "kept", 4);
  ASSERT_TRUE(next.ok());
  EXPECT_GT(next->generation, published.generation);
}

TEST_F(StoreTest, StatsCountPublishedAndStaging) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  ASSERT_TRUE(PutFilled(*store, "b", 1).ok());
  ASSERT_TRUE(store->BeginWrite("c", {10}, DType::kInt16).ok());
  StoreStats stats = store->Stats();
  EXPECT_EQ(stats.matrix_count, 2);
  EXPECT_EQ(stats.matrix_bytes, 2 * kCount * 8);
  EXPECT_EQ(stats.staging_count, 1);
  EXPECT_EQ(stats.staging_bytes, 20);
  EXPECT_GT(stats.shm_dir_total_bytes, 0);
  EXPECT_GE(stats.shm_dir_total_bytes, stats.shm_dir_free_bytes);
}

// Bytes of one PutFilled matrix's file: the header page and the data.
constexpr int64_t kFileBytes = 4096 + StoreTest::kCount * 8;

TEST_F(StoreTest, BudgetRefusesWhatDoesNotFitWithoutEviction) {
  StoreOptions options = Options();
  options.max_bytes = 3 * kFileBytes;
  std::unique_ptr<Store> store = OpenStore(options);
  for (const char* name : {"a", "b", "c"}) ASSERT_TRUE(PutFilled(*store, name, 1).ok());
  EXPECT_EQ(store->Stats().used_bytes, 3 * kFileBytes);

  absl::StatusOr<MatrixInfo> refused = PutFilled(*store, "d", 1);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(),
              HasSubstr(absl::StrCat("needs ", kFileBytes, " bytes; 0 of the ",
                                     3 * kFileBytes, "-byte budget are free")));
  EXPECT_THAT(refused.status().message(), HasSubstr("--evict_unsourced is off"));
  EXPECT_EQ(SegmentFiles().size(), 3u);
  EXPECT_EQ(store->Stats().evictions, 0);

  ASSERT_TRUE(store->Delete("a").ok());
  EXPECT_TRUE(PutFilled(*store, "d", 1).ok());
  // A replace needs room for both generations while it is written.
  EXPECT_EQ(PutFilled(*store, "d", 2).status().code(),
            absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->Stats().used_bytes, 3 * kFileBytes);
}

TEST_F(StoreTest, PeakUsedBytesKeepsTheMostEverCounted) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  // A replace holds both generations while it is written.
  ASSERT_TRUE(PutFilled(*store, "a", 2).ok());
  ASSERT_TRUE(store->Delete("a").ok());
  const StoreStats stats = store->Stats();
  EXPECT_EQ(stats.used_bytes, 0);
  EXPECT_EQ(stats.peak_used_bytes, 2 * kFileBytes);
}

TEST_F(StoreTest, StagingWritesCountAgainstTheBudget) {
  StoreOptions options = Options();
  options.max_bytes = 2 * kFileBytes;
  std::unique_ptr<Store> store = OpenStore(options);
  absl::StatusOr<StagingWrite> first =
      store->BeginWrite("a", {kCount}, DType::kInt64);
  absl::StatusOr<StagingWrite> second =
      store->BeginWrite("b", {kCount}, DType::kInt64);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(store->BeginWrite("c", {kCount}, DType::kInt64).status().code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(store->Abort(first->write_id).ok());
  EXPECT_TRUE(store->BeginWrite("c", {kCount}, DType::kInt64).ok());
}

TEST_F(StoreTest, EvictionDropsTheLeastRecentlyUsedAndKeepsReadersPages) {
  StoreOptions options = Options();
  options.max_bytes = 3 * kFileBytes;
  options.evict_unsourced = true;
  std::unique_ptr<Store> store = OpenStore(options);
  ASSERT_TRUE(PutFilled(*store, "a", 1).ok());
  ASSERT_TRUE(PutFilled(*store, "b", 2).ok());
  ASSERT_TRUE(PutFilled(*store, "c", 3).ok());
  absl::StatusOr<std::shared_ptr<const Segment>> held = store->Acquire("b");
  ASSERT_TRUE(held.ok());
  absl::SleepFor(absl::Milliseconds(2));
  ASSERT_TRUE(store->Info("a").ok());  // now "b" is the least recently used
  ASSERT_TRUE(store->Info("c").ok());

  ASSERT_TRUE(PutFilled(*store, "d", 4).ok());
  std::vector<std::string> names;
  for (const MatrixInfo& info : store->List("")) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("a", "c", "d"));
  EXPECT_EQ(store->Stats().evictions, 1);
  EXPECT_EQ(store->Stats().used_bytes, 3 * kFileBytes);
  EXPECT_EQ(SegmentFiles().size(), 3u);
  EXPECT_TRUE(AllEqual(**held, 2));

  // More than the whole budget is refused without evicting anything.
  absl::StatusOr<StagingWrite> huge =
      store->BeginWrite("huge", {5 * kCount}, DType::kInt64);
  EXPECT_EQ(huge.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(store->List("").size(), 3u);
}

// Publishes kCount int64 elements equal to `value` with `retention`.
absl::StatusOr<MatrixInfo> PutRetained(Store& store, const std::string& name,
                                       int64_t value, Retention retention) {
  absl::StatusOr<StagingWrite> write =
      store.BeginWrite(name, {StoreTest::kCount}, DType::kInt64,
                       Segment::Prefault::kNo, absl::InfiniteFuture(), retention);
  if (!write.ok()) return write.status();
  int64_t* data = reinterpret_cast<int64_t*>(write->segment->mutable_data());
  std::fill(data, data + StoreTest::kCount, value);
  return store.Commit(write->write_id);
}

TEST_F(StoreTest, PinnedMatricesAreNeverEvicted) {
  StoreOptions options = Options();
  options.max_bytes = 3 * kFileBytes;
  options.evict_unsourced = true;
  std::unique_ptr<Store> store = OpenStore(options);
  absl::StatusOr<MatrixInfo> pinned = PutRetained(*store, "a", 1, {true});
  ASSERT_TRUE(pinned.ok());
  EXPECT_TRUE(pinned->pinned);
  ASSERT_TRUE(PutFilled(*store, "b", 2).ok());
  ASSERT_TRUE(PutFilled(*store, "c", 3).ok());
  ASSERT_TRUE(PutFilled(*store, "d", 4).ok());  // evicts "b", not "a"
  std::vector<std::string> names;
  for (const MatrixInfo& info : store->List("")) names.push_back(info.name);
  EXPECT_THAT(names, ElementsAre("a", "c", "d"));

  ASSERT_TRUE(store->SetPinned("c", true).ok());
  ASSERT_TRUE(store->SetPinned("d", true).ok());
  absl::StatusOr<MatrixInfo> refused = PutFilled(*store, "e", 5);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("eviction could free 0 more"));
  absl::StatusOr<MatrixInfo> unpinned = store->SetPinned("a", false);
  ASSERT_TRUE(unpinned.ok());
  EXPECT_FALSE(unpinned->pinned);
  EXPECT_TRUE(PutFilled(*store, "e", 5).ok());
  EXPECT_EQ(store->Info("a").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->SetPinned("absent", true).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ExpiredMatricesAreDeleted) {
  std::unique_ptr<Store> store = OpenStore();
  const absl::Time now = absl::Now();
  absl::StatusOr<MatrixInfo> brief =
      PutRetained(*store, "brief", 1, {false, now + absl::Seconds(10)});
  ASSERT_TRUE(brief.ok());
  EXPECT_EQ(brief->expires, now + absl::Seconds(10));
  ASSERT_TRUE(PutFilled(*store, "lasting", 2).ok());
  EXPECT_EQ(store->DeleteExpired(now), 0);
  EXPECT_EQ(store->DeleteExpired(now + absl::Seconds(11)), 1);
  EXPECT_EQ(store->Info("brief").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store->Info("lasting").ok());
  EXPECT_EQ(store->Stats().expirations, 1);
  EXPECT_EQ(SegmentFiles().size(), 1u);

  // A replace takes the new put's retention: no expiry any more.
  ASSERT_TRUE(PutRetained(*store, "lasting", 3, {false, now}).ok());
  ASSERT_TRUE(PutFilled(*store, "lasting", 4).ok());
  EXPECT_EQ(store->DeleteExpired(now + absl::Hours(1)), 0);
}

TEST_F(StoreTest, RetentionSurvivesARestart) {
  const absl::Time expires = absl::FromUnixSeconds(4000000000);
  {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_TRUE(PutRetained(*store, "pinned", 1, {true}).ok());
    ASSERT_TRUE(PutRetained(*store, "timed", 2, {false, expires}).ok());
    ASSERT_TRUE(PutRetained(*store, "gone", 3, {true}).ok());
    ASSERT_TRUE(store->Delete("gone").ok());
  }
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_TRUE(store->Info("pinned")->pinned);
  EXPECT_EQ(store->Info("pinned")->expires, absl::InfiniteFuture());
  EXPECT_FALSE(store->Info("timed")->pinned);
  EXPECT_EQ(store->Info("timed")->expires, expires);
  // A later matrix of a deleted name does not inherit its pin.
  ASSERT_TRUE(PutFilled(*store, "gone", 4).ok());
  EXPECT_FALSE(store->Info("gone")->pinned);
}

TEST_F(StoreTest, AnOlderGenerationsRetentionNeverAppliesToANewerOne) {
  // A crash between publishing a new version and rewriting the retention
  // file leaves the old version's line behind.
  const std::string file = PathOf("t.retention");
  {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_TRUE(PutRetained(*store, "a", 1, {false, absl::Now()}).ok());
    ASSERT_EQ(link(file.c_str(), PathOf("old-retention").c_str()), 0);
    ASSERT_TRUE(PutFilled(*store, "a", 2).ok());
  }
  ASSERT_EQ(rename(PathOf("old-retention").c_str(), file.c_str()), 0);
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_EQ(store->Info("a")->expires, absl::InfiniteFuture());
  EXPECT_EQ(store->DeleteExpired(absl::Now() + absl::Hours(1)), 0);
  EXPECT_TRUE(store->Info("a").ok());
}

TEST_F(StoreTest, BudgetHoldsAfterEveryStepOfARandomSequence) {
  StoreOptions options = Options();
  options.max_bytes = 5 * kFileBytes;
  options.evict_unsourced = true;
  std::unique_ptr<Store> store = OpenStore(options);
  std::mt19937 random(42);
  std::vector<std::string> pending;  // staging writes
  for (int step = 0; step < 400; ++step) {
    const std::string name = absl::StrCat("m", random() % 8);
    switch (random() % 6) {
      case 0:
      case 1: {
        absl::StatusOr<MatrixInfo> put = PutFilled(*store, name, step);
        EXPECT_TRUE(put.ok() || absl::IsResourceExhausted(put.status()))
            << put.status();
        break;
      }
      case 2: {
        absl::StatusOr<StagingWrite> write = store->BeginWrite(
            name, {static_cast<int64_t>(random() % (2 * kCount))}, DType::kInt32);
        if (write.ok()) pending.push_back(write->write_id);
        break;
      }
      case 3:
        if (!pending.empty()) {
          const std::string id = pending.back();
          pending.pop_back();
          absl::Status done = random() % 2 ? store->Commit(id).status()
                                           : store->Abort(id);
          EXPECT_TRUE(done.ok()) << done;
        }
        break;
      case 4:
        (void)store->Delete(name);
        break;
      case 5:
        (void)store->SetPinned(name, random() % 2 == 0);
        break;
    }
    const StoreStats stats = store->Stats();
    ASSERT_LE(stats.used_bytes, options.max_bytes) << "step " << step;
    ASSERT_EQ(stats.used_bytes, SegmentFileBytes())
        << "step " << step;
  }
}

TEST_F(StoreTest, ConcurrentPutsNeverExceedTheBudget) {
  // Room for every writer's staging file plus two published matrices:
  // staging files are never evicted, so with less some puts could fail.
  StoreOptions options = Options();
  options.max_bytes = 8 * kFileBytes;
  options.evict_unsourced = true;
  std::unique_ptr<Store> store = OpenStore(options);
  // Evictions free room for every put: none may fail.
  EXPECT_LE(PeakUsedBytesDuringConcurrentPuts(*store, 6), 8 * kFileBytes);
  EXPECT_GT(store->Stats().evictions, 0);
  EXPECT_LE(SegmentFiles().size(), 8u);
  EXPECT_EQ(store->Stats().staging_count, 0);
}

TEST_F(StoreTest, ConcurrentCommitsOfOneNameHaveOneConsistentWinner) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::unique_ptr<Store> store = OpenStore();
  for (int round = 0; round < kRounds; ++round) {
    std::vector<absl::StatusOr<MatrixInfo>> results(kThreads);
    absl::Barrier* start = new absl::Barrier(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        if (start->Block()) delete start;
        results[t] = PutFilled(*store, "same", round * kThreads + t);
      });
    }
    for (std::thread& thread : threads) thread.join();

    uint64_t newest = 0;
    int64_t newest_value = -1;
    std::set<uint64_t> generations;
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_TRUE(results[t].ok()) << results[t].status();
      generations.insert(results[t]->generation);
      if (results[t]->generation > newest) {
        newest = results[t]->generation;
        newest_value = round * kThreads + t;
      }
    }
    EXPECT_EQ(generations.size(), static_cast<size_t>(kThreads));
    // The last commit wins, and the catalogue, the file and the data agree.
    absl::StatusOr<std::shared_ptr<const Segment>> current =
        store->Acquire("same");
    ASSERT_TRUE(current.ok());
    EXPECT_EQ((*current)->header().generation, newest);
    EXPECT_TRUE(AllEqual(**current, newest_value));
    EXPECT_THAT(SegmentFiles(),
                ElementsAre(absl::StrCat("t.same.", newest, ".shm")));
  }
  EXPECT_EQ(store->Stats().staging_count, 0);
}

}  // namespace
}  // namespace matcache
