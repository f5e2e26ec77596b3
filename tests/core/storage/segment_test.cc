#include "server/core/storage/segment.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/format/checksum.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kCount = 1000;

SegmentHeader Header(std::vector<int64_t> shape, DType dtype) {
  absl::StatusOr<SegmentHeader> header =
      MakeStagingHeader("m", shape, dtype, /*source=*/"");
  EXPECT_TRUE(header.ok()) << header.status();
  return *header;
}

std::vector<int64_t> Iota() {
  std::vector<int64_t> values(kCount);
  std::iota(values.begin(), values.end(), 7);
  return values;
}

mode_t ModeOf(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Waits for `pid` and returns its raw wait status.
int Wait(pid_t pid) {
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  return status;
}

// Removes CAP_LEASE from this process's effective capabilities; false if
// the kernel refused.
bool DropLeaseCapability() {
  __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  data[CAP_LEASE / 32].effective &= ~(1u << (CAP_LEASE % 32));
  return syscall(SYS_capset, &header, data) == 0;
}

// In a child process that may not take file leases on `segment`'s file
// (it belongs to another user, and CAP_LEASE is dropped): 0 if Freeze
// succeeds, 10 if it refuses because it cannot check for writers, 20 for
// any other outcome.
int FreezeWithoutLeases(Segment& segment) {
  const pid_t pid = fork();
  if (pid == 0) {
    if (!DropLeaseCapability()) _exit(30);
    const absl::Status frozen = segment.Freeze();
    if (frozen.ok()) _exit(0);
    _exit(absl::IsFailedPrecondition(frozen) &&
                  absl::StrContains(frozen.message(), "cannot check")
              ? 10
              : 20);
  }
  const int status = Wait(pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

class SegmentTest : public ::testing::Test {
 protected:
  std::string PathOf(const std::string& file) const {
    return dir_.path() + "/" + file;
  }

  // A sealed int64 segment holding Iota(), published at PathOf("m.2.shm").
  std::string Publish() {
    absl::StatusOr<Segment> segment =
        Segment::Create(PathOf("m.1.staging.shm"), Header({kCount}, DType::kInt64),
                        0600, Segment::Prefault::kYes);
    EXPECT_TRUE(segment.ok()) << segment.status();
    const std::vector<int64_t> values = Iota();
    std::memcpy(segment->mutable_data(), values.data(), kCount * 8);
    absl::Status sealed = segment->Seal(PathOf("m.2.shm"), 2,
                                        segment->ComputeChecksum(), 0400);
    EXPECT_TRUE(sealed.ok()) << sealed;
    return PathOf("m.2.shm");
  }

  matcache::testing::ScopedTempDir dir_;
};

TEST_F(SegmentTest, SealPublishesUnderTheNewNameReadOnly) {
  const std::string path = Publish();
  EXPECT_THAT(dir_.Entries(), ElementsAre("m.2.shm"));
  EXPECT_EQ(ModeOf(path), 0400u);
  absl::StatusOr<Segment> opened =
      Segment::OpenReadOnly(path, Segment::Verify::kChecksum);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_TRUE(opened->sealed());
  EXPECT_EQ(opened->header().generation, 2u);
  EXPECT_EQ(opened->mutable_data(), nullptr);
}

TEST_F(SegmentTest, ForkedChildSeesTheSameBytesAndCannotWrite) {
  const std::string path = Publish();
  const std::vector<int64_t> expected = Iota();

  const pid_t reader = fork();
  ASSERT_GE(reader, 0);
  if (reader == 0) {
    absl::StatusOr<Segment> segment =
        Segment::OpenReadOnly(path, Segment::Verify::kChecksum);
    if (!segment.ok()) _exit(2);
    absl::StatusOr<std::shared_ptr<const SegmentData>> mapped = segment->MapData();
    if (!mapped.ok()) _exit(6);
    if (std::memcmp((*mapped)->data(), expected.data(), kCount * 8) != 0) _exit(3);
    // The file was opened O_RDONLY: the kernel refuses a writable mapping
    // even to root.
    void* data = const_cast<char*>((*mapped)->data());
    if (mprotect(data, kCount * 8, PROT_READ | PROT_WRITE) == 0) _exit(4);
    if (errno != EACCES) _exit(5);
    _exit(0);
  }
  int status = Wait(reader);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);

  const pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    absl::StatusOr<Segment> segment =
        Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly);
    if (!segment.ok()) _exit(2);
    absl::StatusOr<std::shared_ptr<const SegmentData>> mapped = segment->MapData();
    if (!mapped.ok()) _exit(6);
    signal(SIGSEGV, SIG_DFL);  // a sanitizer's handler would exit instead
    const_cast<char*>((*mapped)->data())[0] = 1;  // must fault
    _exit(0);
  }
  status = Wait(writer);
  ASSERT_TRUE(WIFSIGNALED(status)) << "a write through a read-only mapping "
                                      "did not fault";
  EXPECT_EQ(WTERMSIG(status), SIGSEGV);

  absl::StatusOr<Segment> after =
      Segment::OpenReadOnly(path, Segment::Verify::kChecksum);
  ASSERT_TRUE(after.ok()) << after.status();
}

TEST_F(SegmentTest, CreateRefusesAnExistingFile) {
  const std::string path = Publish();
  absl::StatusOr<Segment> again = Segment::Create(
      path, Header({4}, DType::kInt8), 0600, Segment::Prefault::kNo);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_TRUE(Segment::OpenReadOnly(path, Segment::Verify::kChecksum).ok());
}

TEST_F(SegmentTest, FailedFallocateLeavesNoFile) {
  struct statvfs fs;
  ASSERT_EQ(statvfs(dir_.path().c_str(), &fs), 0);
  const int64_t filesystem_bytes = static_cast<int64_t>(fs.f_blocks * fs.f_frsize);
  absl::StatusOr<Segment> segment = Segment::Create(
      PathOf("big.1.staging.shm"),
      Header({filesystem_bytes / 8 + (int64_t{1} << 20)}, DType::kFloat64),
      0600, Segment::Prefault::kNo);
  EXPECT_EQ(segment.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(segment.status().message(), HasSubstr("not enough space"));
  EXPECT_THAT(dir_.Entries(), IsEmpty());
}

TEST_F(SegmentTest, ModeIsExactWhateverTheUmask) {
  const mode_t old_umask = umask(0077);
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({4}, DType::kInt8), 0660,
                      Segment::Prefault::kNo);
  umask(old_umask);
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_EQ(ModeOf(segment->path()), 0660u);
}

TEST_F(SegmentTest, ZeroSizedMatrixIsJustAHeader) {
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("z.1.staging.shm"), Header({3, 0}, DType::kFloat64),
                      0600, Segment::Prefault::kYes);
  ASSERT_TRUE(segment.ok()) << segment.status();
  ASSERT_TRUE(segment->Seal(PathOf("z.2.shm"), 2, segment->ComputeChecksum(), 0400)
                  .ok());
  absl::StatusOr<Segment> opened =
      Segment::OpenReadOnly(PathOf("z.2.shm"), Segment::Verify::kChecksum);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->header().data_length, 0u);
  EXPECT_THAT(opened->header().shape, ElementsAre(3, 0));
}

TEST_F(SegmentTest, OpenRejectsATruncatedFile) {
  const std::string path = Publish();
  ASSERT_EQ(truncate(path.c_str(), 4096 + 100), 0);
  absl::StatusOr<Segment> opened =
      Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("4196 bytes"));

  ASSERT_EQ(truncate(path.c_str(), 10), 0);
  opened = Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(SegmentTest, OpenRejectsAStagingSegment) {
  absl::StatusOr<Segment> staging =
      Segment::Create(PathOf("m.1.staging.shm"), Header({4}, DType::kInt8), 0600,
                      Segment::Prefault::kNo);
  ASSERT_TRUE(staging.ok());
  absl::StatusOr<Segment> opened =
      Segment::OpenReadOnly(staging->path(), Segment::Verify::kHeaderOnly);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("not sealed"));
}

TEST_F(SegmentTest, ChecksumVerificationCatchesChangedData) {
  const std::string path = Publish();
  ASSERT_EQ(chmod(path.c_str(), 0600), 0);
  const int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "x", 1, 4096 + 500), 1);
  close(fd);
  EXPECT_TRUE(Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly).ok());
  absl::StatusOr<Segment> verified =
      Segment::OpenReadOnly(path, Segment::Verify::kChecksum);
  EXPECT_EQ(verified.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(verified.status().message(), HasSubstr("checksum"));
}

TEST_F(SegmentTest, OpenDoesNotFollowSymlinks) {
  const std::string path = Publish();
  const std::string link = PathOf("link.3.shm");
  ASSERT_EQ(symlink(path.c_str(), link.c_str()), 0);
  EXPECT_FALSE(Segment::OpenReadOnly(link, Segment::Verify::kHeaderOnly).ok());
}

TEST_F(SegmentTest, SealNeverReplacesAnExistingFile) {
  const std::string taken = PathOf("m.5.shm");
  const int fd = open(taken.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  close(fd);
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.4.staging.shm"), Header({4}, DType::kInt8), 0600,
                      Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok());
  absl::Status sealed = segment->Seal(taken, 5, segment->ComputeChecksum(), 0400);
  EXPECT_EQ(sealed.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(segment->sealed());
  EXPECT_EQ(segment->mutable_data(), nullptr);  // frozen, still staging
  struct stat st;
  ASSERT_EQ(stat(taken.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 0);  // untouched
  // Another name works.
  ASSERT_TRUE(segment->Seal(PathOf("m.6.shm"), 6, segment->ComputeChecksum(), 0400)
                  .ok());
  absl::StatusOr<Segment> opened =
      Segment::OpenReadOnly(PathOf("m.6.shm"), Segment::Verify::kChecksum);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->header().generation, 6u);
}

TEST_F(SegmentTest, FreezeRefusesWhileAnotherWriterHoldsTheFile) {
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({4096}, DType::kInt8),
                      0660, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  const int writer = open(segment->path().c_str(), O_RDWR);
  ASSERT_GE(writer, 0);
  absl::Status frozen = segment->Freeze();
  EXPECT_EQ(frozen.code(), absl::StatusCode::kFailedPrecondition) << frozen;
  EXPECT_THAT(frozen.message(), HasSubstr("still open for writing"));
  // A writable mapping counts as much as an open file.
  void* map = mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, writer, 0);
  ASSERT_NE(map, MAP_FAILED);
  close(writer);
  EXPECT_EQ(segment->Seal(PathOf("m.2.shm"), 2, 0, 0400).code(),
            absl::StatusCode::kFailedPrecondition);
  munmap(map, 8192);
  EXPECT_TRUE(segment->Freeze().ok());
  EXPECT_TRUE(segment->Seal(PathOf("m.2.shm"), 2, 0, 0400).ok());
}

TEST_F(SegmentTest, FreezeTakesWritePermissionFromEveryoneButTheOwner) {
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({8}, DType::kInt8),
                      0660, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  ASSERT_NE(segment->mutable_data(), nullptr);
  ASSERT_TRUE(segment->Freeze().ok());
  struct stat st;
  ASSERT_EQ(stat(segment->path().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  EXPECT_EQ(segment->mutable_data(), nullptr);
}

TEST_F(SegmentTest, OpenForWritingHandsOutADescriptionOfItsOwn) {
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({kCount}, DType::kInt64),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  absl::StatusOr<int> writer = segment->OpenForWriting();
  ASSERT_TRUE(writer.ok()) << writer.status();
  EXPECT_EQ(fcntl(*writer, F_GETFL) & O_ACCMODE, O_RDWR);
  EXPECT_EQ(fcntl(*writer, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  const std::vector<int64_t> values = Iota();
  ASSERT_EQ(pwrite(*writer, values.data(), kCount * 8, kHeaderSize), kCount * 8);
  // Open, it keeps the segment from being frozen; closed, it is gone.
  absl::Status frozen = segment->Freeze();
  EXPECT_EQ(frozen.code(), absl::StatusCode::kFailedPrecondition) << frozen;
  EXPECT_THAT(frozen.message(), HasSubstr("still open for writing"));
  close(*writer);
  ASSERT_TRUE(segment->Freeze().ok());
  EXPECT_EQ(segment->ComputeChecksum(),
            DataChecksum(reinterpret_cast<const char*>(values.data()), kCount * 8,
                         /*threads=*/1));
  absl::StatusOr<int> again = segment->OpenForWriting();
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SegmentTest, CopyDataFromRecordsTheChecksumOfWhatItCopied) {
  const std::vector<int64_t> values = Iota();
  const std::string source = PathOf("source.bin");
  const int fd = open(source.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, values.data(), kCount * 8, 100), kCount * 8);
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({kCount}, DType::kInt64),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_EQ(segment->written_checksum(), std::nullopt);
  ASSERT_TRUE(segment->CopyDataFrom(fd, 100, source, /*threads=*/2).ok());
  const uint64_t expected = DataChecksum(
      reinterpret_cast<const char*>(values.data()), kCount * 8, /*threads=*/1);
  EXPECT_EQ(segment->written_checksum(), expected);
  EXPECT_EQ(segment->ComputeChecksum(), expected);

  // Whoever may write the data next voids it.
  EXPECT_NE(segment->mutable_data(), nullptr);
  EXPECT_EQ(segment->written_checksum(), std::nullopt);
  ASSERT_TRUE(segment->CopyDataFrom(fd, 100, source, /*threads=*/1).ok());
  EXPECT_EQ(segment->written_checksum(), expected);
  absl::StatusOr<int> writer = segment->OpenForWriting();
  ASSERT_TRUE(writer.ok()) << writer.status();
  close(*writer);
  EXPECT_EQ(segment->written_checksum(), std::nullopt);

  // A source too short fails and records nothing.
  ASSERT_TRUE(segment->Freeze().ok());
  absl::StatusOr<Segment> other =
      Segment::Create(PathOf("m.2.staging.shm"), Header({kCount}, DType::kInt64),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(other.ok()) << other.status();
  absl::Status short_copy = other->CopyDataFrom(fd, 200, source, 2);
  EXPECT_EQ(short_copy.code(), absl::StatusCode::kInvalidArgument) << short_copy;
  EXPECT_EQ(other->written_checksum(), std::nullopt);
  // Nor may a frozen segment be filled.
  EXPECT_EQ(segment->CopyDataFrom(fd, 100, source, 1).code(),
            absl::StatusCode::kFailedPrecondition);
  close(fd);
}

TEST_F(SegmentTest, AppendDataRecordsTheChecksumOnceTheDataIsComplete) {
  const std::vector<int64_t> values = Iota();
  const char* bytes = reinterpret_cast<const char*>(values.data());
  const uint64_t expected = DataChecksum(bytes, kCount * 8, /*threads=*/1);
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({kCount}, DType::kInt64),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  ASSERT_TRUE(segment->AppendData(absl::string_view(bytes, 1000)).ok());
  EXPECT_EQ(segment->written_checksum(), std::nullopt);  // not complete
  absl::Status past = segment->AppendData(absl::string_view(bytes, kCount * 8));
  EXPECT_EQ(past.code(), absl::StatusCode::kOutOfRange) << past;
  ASSERT_TRUE(segment->AppendData(absl::string_view(bytes + 1000, kCount * 8 - 1000)).ok());
  EXPECT_EQ(segment->written_checksum(), expected);
  EXPECT_EQ(segment->ComputeChecksum(), expected);
  EXPECT_EQ(segment->AppendData(absl::string_view(bytes, 1)).code(),
            absl::StatusCode::kOutOfRange);
  ASSERT_TRUE(segment->Freeze().ok());
  EXPECT_EQ(segment->AppendData(absl::string_view(bytes, 1)).code(),
            absl::StatusCode::kFailedPrecondition);

  // Data that may have been written some other way is not vouched for.
  absl::StatusOr<Segment> other =
      Segment::Create(PathOf("m.2.staging.shm"), Header({kCount}, DType::kInt64),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(other.ok()) << other.status();
  ASSERT_TRUE(other->AppendData(absl::string_view(bytes, 8)).ok());
  other->mutable_data()[0] = 1;
  ASSERT_TRUE(other->AppendData(absl::string_view(bytes + 8, kCount * 8 - 8)).ok());
  EXPECT_EQ(other->written_checksum(), std::nullopt);
}

TEST_F(SegmentTest, FreezeRefusesAHandedOutFileWhenLeasesCannotBeTaken) {
  if (geteuid() != 0) GTEST_SKIP() << "not root: cannot give the file away";
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({8}, DType::kInt8),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  absl::StatusOr<int> writer = segment->OpenForWriting();
  ASSERT_TRUE(writer.ok()) << writer.status();
  close(*writer);
  // Leases need the file's owner or CAP_LEASE, which the child drops.
  ASSERT_EQ(chown(segment->path().c_str(), 65534, static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(FreezeWithoutLeases(*segment), 10);
  // Here, with leases, the check runs and finds no writer.
  EXPECT_TRUE(segment->Freeze().ok());
}

TEST_F(SegmentTest, FreezeOfAFileNeverHandedOutNeedsNoLease) {
  if (geteuid() != 0) GTEST_SKIP() << "not root: cannot give the file away";
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.1.staging.shm"), Header({8}, DType::kInt8),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  ASSERT_EQ(chown(segment->path().c_str(), 65534, static_cast<gid_t>(-1)), 0);
  EXPECT_EQ(FreezeWithoutLeases(*segment), 0);
}

TEST_F(SegmentTest, CheckFileSizeRefusesWhatItCannotCheck) {
  absl::StatusOr<Segment> segment =
      Segment::Create(PathOf("m.3.staging.shm"), Header({kCount}, DType::kInt64),
                      0600, Segment::Prefault::kNo);
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_TRUE(segment->CheckFileSize().ok());
  absl::StatusOr<int> writer = segment->OpenForWriting();
  ASSERT_TRUE(writer.ok()) << writer.status();
  ASSERT_EQ(ftruncate(*writer, kHeaderSize), 0);
  close(*writer);
  ASSERT_TRUE(segment->Freeze().ok());
  EXPECT_EQ(segment->CheckFileSize().code(), absl::StatusCode::kDataLoss);

  absl::StatusOr<Segment> sealed =
      Segment::OpenReadOnly(Publish(), Segment::Verify::kHeaderOnly);
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  const absl::Status checked = sealed->CheckFileSize();
  EXPECT_EQ(checked.code(), absl::StatusCode::kFailedPrecondition) << checked;
}

TEST_F(SegmentTest, UnlinkKeepsTheDataReadable) {
  const std::string path = Publish();
  absl::StatusOr<Segment> segment =
      Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly);
  ASSERT_TRUE(segment.ok());
  ASSERT_TRUE(segment->Unlink().ok());  // never mapped before
  EXPECT_THAT(dir_.Entries(), IsEmpty());
  absl::StatusOr<std::shared_ptr<const SegmentData>> data = segment->MapData();
  ASSERT_TRUE(data.ok()) << data.status();
  const std::vector<int64_t> expected = Iota();
  EXPECT_EQ(std::memcmp((*data)->data(), expected.data(), kCount * 8), 0);
  EXPECT_EQ(segment->Unlink().code(), absl::StatusCode::kNotFound);
}

// Mappings of files in `dir` that this process has.
int MappingsIn(const std::string& dir) {
  std::ifstream maps("/proc/self/maps");
  int count = 0;
  for (std::string line; std::getline(maps, line);) {
    if (absl::StrContains(line, dir + "/")) ++count;
  }
  return count;
}

TEST_F(SegmentTest, SealedDataIsMappedOnFirstUseAndShared) {
  const std::string path = Publish();  // its staging mapping is gone
  absl::StatusOr<Segment> segment =
      Segment::OpenReadOnly(path, Segment::Verify::kChecksum);
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_EQ(MappingsIn(dir_.path()), 0);
  absl::StatusOr<std::shared_ptr<const SegmentData>> first = segment->MapData();
  absl::StatusOr<std::shared_ptr<const SegmentData>> second = segment->MapData();
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(MappingsIn(dir_.path()), 1);
  first->reset();
  second->reset();
  EXPECT_EQ(MappingsIn(dir_.path()), 1);  // kept while the segment lives
  *segment = Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly).value();
  EXPECT_EQ(MappingsIn(dir_.path()), 0);
}

TEST_F(SegmentTest, MapDataRefusesWhatIsNotTheSealedFile) {
  const std::string path = Publish();
  absl::StatusOr<Segment> segment =
      Segment::OpenReadOnly(path, Segment::Verify::kHeaderOnly);
  ASSERT_TRUE(segment.ok());
  // Another file of the same size under its name.
  ASSERT_EQ(rename(path.c_str(), PathOf("aside").c_str()), 0);
  const std::string copy = PathOf("aside");
  ASSERT_EQ(link(copy.c_str(), PathOf("link").c_str()), 0);
  {
    std::ifstream in(copy, std::ios::binary);
    std::ofstream out(path, std::ios::binary);
    out << in.rdbuf();
  }
  EXPECT_EQ(segment->MapData().status().code(), absl::StatusCode::kDataLoss);
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(segment->MapData().status().code(), absl::StatusCode::kNotFound);

  absl::StatusOr<Segment> staging = Segment::Create(
      PathOf("n.1.staging.shm"), Header({kCount}, DType::kInt64), 0600,
      Segment::Prefault::kNo);
  ASSERT_TRUE(staging.ok());
  EXPECT_EQ(staging->MapData().status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(SegmentTest, MappingsBeyondTheKeptOnesLastWhileHeld) {
  // More sealed segments than a process keeps mapped: hard links of one.
  const std::string path = Publish();
  const int count = static_cast<int>(Segment::kMaxKeptMappings) + 100;
  std::vector<Segment> segments;
  segments.reserve(count);
  for (int i = 0; i < count; ++i) {
    const std::string name = PathOf(absl::StrCat("m.", i + 3, ".shm"));
    ASSERT_EQ(link(path.c_str(), name.c_str()), 0) << std::strerror(errno);
    absl::StatusOr<Segment> opened =
        Segment::OpenReadOnly(name, Segment::Verify::kHeaderOnly);
    ASSERT_TRUE(opened.ok()) << opened.status();
    segments.push_back(*std::move(opened));
  }
  const std::vector<int64_t> expected = Iota();
  for (const Segment& segment : segments) {
    absl::StatusOr<std::shared_ptr<const SegmentData>> data = segment.MapData();
    ASSERT_TRUE(data.ok()) << data.status();
    ASSERT_EQ(std::memcmp((*data)->data(), expected.data(), kCount * 8), 0);
  }
  const int mapped = MappingsIn(dir_.path());
  EXPECT_LE(mapped, Segment::kMaxKeptMappings);
  EXPECT_GE(mapped, Segment::kMaxKeptMappings - 100);  // others may keep some
  segments.clear();
  EXPECT_EQ(MappingsIn(dir_.path()), 0);
}

}  // namespace
}  // namespace matcache
