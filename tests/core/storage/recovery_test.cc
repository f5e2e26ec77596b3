// Recovery after a simulated crash: the files a killed server could leave
// behind, repaired by the next Store::Open exactly as docs/architecture.md §5 rule 4 says.
#include "server/core/storage/recovery.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/cache/store.h"
#include "server/core/format/checksum.h"
#include "tests/support/store_test_base.h"

namespace matcache {
namespace {

using ::testing::UnorderedElementsAreArray;

class RecoveryTest : public matcache::testing::StoreTestBase {
 protected:
  // PutFilled for sequences that cannot go on after a failure.
  static MatrixInfo Put(Store& store, const std::string& name, int64_t value) {
    absl::StatusOr<MatrixInfo> info = PutFilled(store, name, value);
    EXPECT_TRUE(info.ok()) << info.status();
    return info.ok() ? *info : MatrixInfo{};
  }

  static std::string FileOf(const MatrixInfo& info) {
    return info.path.substr(info.path.rfind('/') + 1);
  }

  // Overwrites one byte of a (read-only) segment file, as a stray write
  // would, and leaves its mode as it was.
  static void Scribble(const std::string& path, off_t offset) {
    ASSERT_EQ(chmod(path.c_str(), 0600), 0);
    const int fd = open(path.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    char byte = 0x5a;
    ASSERT_EQ(pwrite(fd, &byte, 1, offset), 1);
    close(fd);
    ASSERT_EQ(chmod(path.c_str(), 0400), 0);
  }

  void Touch(const std::string& file) {
    const int fd = open(PathOf(file).c_str(), O_CREAT | O_WRONLY, 0600);
    ASSERT_GE(fd, 0);
    close(fd);
  }
};

TEST_F(RecoveryTest, SimulatedCrashIsRepairedExactlyAsDesigned) {
  MatrixInfo a1, a2, b, c, d, e1, e2;
  {
    std::unique_ptr<Store> store = OpenStore();
    // Two sealed generations of "a": keep a second name for the first, as a
    // crash between the rename of a2 and the unlink of a1 would.
    a1 = Put(*store, "a", 1);
    ASSERT_EQ(link(a1.path.c_str(), PathOf("keep-a1").c_str()), 0);
    a2 = Put(*store, "a", 2);
    b = Put(*store, "b", 3);
    c = Put(*store, "c", 4);
    d = Put(*store, "d", 5);
    e1 = Put(*store, "e", 6);
    ASSERT_EQ(link(e1.path.c_str(), PathOf("keep-e1").c_str()), 0);
    e2 = Put(*store, "e", 7);
  }
  ASSERT_EQ(rename(PathOf("keep-a1").c_str(), a1.path.c_str()), 0);
  ASSERT_EQ(rename(PathOf("keep-e1").c_str(), e1.path.c_str()), 0);
  Scribble(c.path, 100);    // a flipped header byte
  ASSERT_EQ(truncate(d.path.c_str(), 4096 + 10), 0);  // a truncated file
  Scribble(e2.path, 0);     // wrong magic on the newest generation of "e"
  // A staging file left by a writer that died.
  ASSERT_TRUE(Segment::Create(PathOf("t.s.999.staging.shm"),
                              *MakeStagingHeader("s", {8}, DType::kInt8, ""),
                              0600, Segment::Prefault::kNo)
                  .ok());
  // Files that are not the store's.
  Touch("t.notes.txt");
  Touch("t.x.shm");
  Touch("other.a.1.shm");

  const std::vector<std::string> expected_files = {
      "t.lock",
      FileOf(a2),
      FileOf(b),
      FileOf(e1),
      FileOf(c) + ".quarantined",
      FileOf(d) + ".quarantined",
      FileOf(e2) + ".quarantined",
      "t.notes.txt",
      "t.x.shm",
      "other.a.1.shm",
  };
  {
    std::unique_ptr<Store> store = OpenStore();
    const RecoveryReport& report = store->recovery_report();
    EXPECT_EQ(report.adopted, 3);
    EXPECT_EQ(report.staging_removed, 1);
    EXPECT_EQ(report.superseded_removed, 1);
    EXPECT_EQ(report.quarantined, 3);
    EXPECT_EQ(store->Stats().quarantined_count, 3);
    EXPECT_THAT(dir_.Entries(), UnorderedElementsAreArray(expected_files));

    absl::StatusOr<std::shared_ptr<const Segment>> a = store->Acquire("a");
    ASSERT_TRUE(a.ok());
    EXPECT_EQ((*a)->header().generation, a2.generation);
    EXPECT_TRUE(AllEqual(**a, 2));
    absl::StatusOr<std::shared_ptr<const SegmentData>> data = (*a)->MapData();
    ASSERT_TRUE(data.ok()) << data.status();
    EXPECT_EQ(DataChecksum((*data)->data(), (*a)->header().data_length, 1),
              a2.checksum);
    absl::StatusOr<std::shared_ptr<const Segment>> e = store->Acquire("e");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ((*e)->header().generation, e1.generation);
    EXPECT_TRUE(AllEqual(**e, 6));
    EXPECT_EQ(store->Info("b")->checksum, b.checksum);
    EXPECT_EQ(store->Info("c").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->Info("d").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(store->Info("s").status().code(), absl::StatusCode::kNotFound);
    // Numbers are never reused, not even the staging file's.
    EXPECT_GT(Put(*store, "f", 0).generation, 999u);
  }
  // Recovery of a recovered directory changes nothing.
  std::unique_ptr<Store> store = OpenStore();
  const RecoveryReport& report = store->recovery_report();
  EXPECT_EQ(report.adopted, 4);
  EXPECT_EQ(report.staging_removed, 0);
  EXPECT_EQ(report.superseded_removed, 0);
  EXPECT_EQ(report.quarantined, 0);
  EXPECT_EQ(store->Info("a")->generation, a2.generation);
}

TEST_F(RecoveryTest, HeaderThatDisagreesWithItsFileNameIsQuarantined) {
  MatrixInfo b;
  {
    std::unique_ptr<Store> store = OpenStore();
    b = Put(*store, "b", 3);
  }
  const std::string renamed = PathOf(absl::StrCat("t.z.", b.generation, ".shm"));
  ASSERT_EQ(rename(b.path.c_str(), renamed.c_str()), 0);
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_EQ(store->recovery_report().quarantined, 1);
  EXPECT_EQ(store->Info("z").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(access((renamed + ".quarantined").c_str(), F_OK), 0);
}

TEST_F(RecoveryTest, DataCorruptionIsCaughtOnlyWhenVerifying) {
  MatrixInfo m;
  {
    std::unique_ptr<Store> store = OpenStore();
    m = Put(*store, "m", 8);
  }
  Scribble(m.path, 4096 + 77);
  {
    std::unique_ptr<Store> store = OpenStore();
    EXPECT_EQ(store->recovery_report().adopted, 1);
    EXPECT_EQ(store->recovery_report().quarantined, 0);
  }
  StoreOptions verifying = Options();
  verifying.verify_on_recover = true;
  std::unique_ptr<Store> store = OpenStore(verifying);
  EXPECT_EQ(store->recovery_report().adopted, 0);
  EXPECT_EQ(store->recovery_report().quarantined, 1);
  EXPECT_EQ(store->Info("m").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RecoveryTest, FilesThisServerDidNotMakeAreLeftAlone) {
  MatrixInfo linked, writable;
  {
    std::unique_ptr<Store> store = OpenStore();
    linked = Put(*store, "linked", 1);
    writable = Put(*store, "writable", 2);
  }
  // A second link could let someone else keep the file; a writable file
  // could change under readers.
  ASSERT_EQ(link(linked.path.c_str(), PathOf("elsewhere").c_str()), 0);
  ASSERT_EQ(chmod(writable.path.c_str(), 0644), 0);
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_EQ(store->recovery_report().adopted, 0);
  EXPECT_EQ(store->recovery_report().quarantined, 0);
  EXPECT_EQ(store->Info("linked").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Info("writable").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(access(linked.path.c_str(), F_OK), 0);
  EXPECT_EQ(access(writable.path.c_str(), F_OK), 0);
}

TEST_F(RecoveryTest, CallsThatFailInsideTheScanDoNotFailIt) {
  MatrixInfo kept;
  {
    std::unique_ptr<Store> store = OpenStore();
    kept = Put(*store, "m", 1);
  }
  // Removing a "staging file" that is a directory fails (EISDIR) and is
  // only logged; errno stays set while the scan goes on to its end.
  ASSERT_EQ(mkdir(PathOf("t.d.5.staging.shm").c_str(), 0700), 0);
  absl::StatusOr<RecoveredSegments> recovered =
      RecoverSegments(dir_.path(), "t", Segment::Verify::kHeaderOnly);
  ASSERT_TRUE(recovered.ok()) << recovered.status();
  EXPECT_EQ(recovered->report.adopted, 1);
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<MatrixInfo> info = store->Info("m");
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->generation, kept.generation);
}

TEST_F(RecoveryTest, MissingDirectoryIsAnError) {
  absl::StatusOr<RecoveredSegments> recovered = RecoverSegments(
      PathOf("absent"), "t", Segment::Verify::kHeaderOnly);
  EXPECT_EQ(recovered.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace matcache
