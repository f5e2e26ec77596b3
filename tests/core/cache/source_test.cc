// Matrices read from .npy sources: lazily, once, again after an eviction.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/cache/store.h"
#include "server/core/format/checksum.h"
#include "server/core/format/npy.h"
#include "server/core/storage/npy_file.h"
#include "server/core/storage/source_file.h"
#include "tests/support/store_test_base.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class SourceTest : public matcache::testing::StoreTestBase {
 protected:
  // Stores whose sources may come from the data directory.
  StoreOptions Options() {
    StoreOptions options = StoreTestBase::Options();
    options.source_dirs = {root()};
    return options;
  }
  using StoreTestBase::OpenStore;
  std::unique_ptr<Store> OpenStore() { return OpenStore(Options()); }

  // The header of the .npy file at `path`.
  static absl::StatusOr<NpyHeader> HeaderOf(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return absl::NotFoundError(path);
    absl::StatusOr<NpyHeader> header = ReadNpyFileHeader(fd, path);
    close(fd);
    return header;
  }

  // Writes `bytes` as a file of `data_dir_` and returns its path.
  std::string WriteFile(const std::string& name, const std::string& bytes) {
    const std::string path = data_dir_.path() + "/" + name;
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, bytes.data(), bytes.size()),
              static_cast<ssize_t>(bytes.size()));
    close(fd);
    return path;
  }

  // A C-ordered little-endian int32 .npy file of 0, 1, ... in `shape`.
  std::string WriteIota(const std::string& name, std::vector<int64_t> shape) {
    int64_t count = 1;
    for (int64_t extent : shape) count *= extent;
    std::vector<int32_t> values(count);
    std::iota(values.begin(), values.end(), 0);
    return WriteFile(name, NpyHeaderFor(DType::kInt32, shape) +
                               std::string(reinterpret_cast<char*>(values.data()),
                                           values.size() * 4));
  }

  std::string Canonical(const std::string& path) {
    absl::StatusOr<std::string> resolved = ResolveSourcePath(root(), path);
    EXPECT_TRUE(resolved.ok()) << resolved.status();
    return resolved.ok() ? *resolved : "";
  }

  std::string root() {
    char resolved[PATH_MAX];
    EXPECT_NE(realpath(data_dir_.path().c_str(), resolved), nullptr);
    return resolved;
  }

  static std::vector<int32_t> Values(const Segment& segment) {
    std::vector<int32_t> values(segment.header().data_length / 4);
    absl::StatusOr<std::shared_ptr<const SegmentData>> data = segment.MapData();
    EXPECT_TRUE(data.ok()) << data.status();
    if (!data.ok()) return {};
    std::memcpy(values.data(), (*data)->data(), segment.header().data_length);
    return values;
  }

  matcache::testing::ScopedTempDir data_dir_;
};

TEST_F(SourceTest, LoadsOnFirstAccessOnce) {
  std::unique_ptr<Store> store = OpenStore();
  const std::string path = Canonical(WriteIota("m.npy", {2, 3}));
  absl::StatusOr<MatrixInfo> registered = store->RegisterSource("m", path);
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_THAT(registered->shape, ElementsAre(2, 3));
  EXPECT_EQ(registered->generation, 0u);
  EXPECT_TRUE(store->NeedsLoad("m"));
  EXPECT_EQ(store->Info("m").status().code(), absl::StatusCode::kNotFound);

  // Listed before it is read, with what the file holds.
  std::vector<MatrixInfo> listed = store->List("");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].generation, 0u);
  EXPECT_THAT(listed[0].shape, ElementsAre(2, 3));
  EXPECT_EQ(listed[0].source, path);

  std::vector<std::thread> threads;
  for (int i = 0; i < 16; ++i) {
    threads.emplace_back([&] { EXPECT_TRUE(store->EnsureLoaded("m").ok()); });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(store->Stats().loads, 1);
  EXPECT_FALSE(store->NeedsLoad("m"));
  absl::StatusOr<std::shared_ptr<const Segment>> segment = store->Acquire("m");
  ASSERT_TRUE(segment.ok());
  EXPECT_THAT(Values(**segment), ElementsAre(0, 1, 2, 3, 4, 5));
  EXPECT_EQ(store->Info("m")->source, path);
}

TEST_F(SourceTest, EvictedSourcedMatricesReloadAndDeletesForgetTheSource) {
  StoreOptions options = Options();
  options.max_bytes = 2 * (4096 + 4096);  // two 1024-element int32 files
  std::unique_ptr<Store> store = OpenStore(options);  // evict_unsourced off
  ASSERT_TRUE(store->RegisterSource("a", Canonical(WriteIota("a.npy", {1024}))).ok());
  ASSERT_TRUE(store->RegisterSource("b", Canonical(WriteIota("b.npy", {1024}))).ok());
  ASSERT_TRUE(store->RegisterSource("c", Canonical(WriteIota("c.npy", {1024}))).ok());
  ASSERT_TRUE(store->EnsureLoaded("a").ok());
  ASSERT_TRUE(store->EnsureLoaded("b").ok());
  ASSERT_TRUE(store->EnsureLoaded("c").ok());  // evicts "a": it has a source
  EXPECT_EQ(store->Stats().evictions, 1);
  EXPECT_TRUE(store->NeedsLoad("a"));
  std::vector<MatrixInfo> listed = store->List("a");
  ASSERT_EQ(listed.size(), 1u);  // still listed, to be read again
  EXPECT_EQ(listed[0].generation, 0u);
  EXPECT_THAT(listed[0].shape, ElementsAre(1024));
  ASSERT_TRUE(store->EnsureLoaded("a").ok());  // and back it comes
  EXPECT_EQ(store->Stats().loads, 4);
  std::vector<int32_t> expected(1024);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(Values(**store->Acquire("a")), expected);

  ASSERT_TRUE(store->Delete("a").ok());
  EXPECT_FALSE(store->NeedsLoad("a"));
  EXPECT_EQ(store->EnsureLoaded("a").code(), absl::StatusCode::kNotFound);
}

TEST_F(SourceTest, APutReplacesTheSource) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(store->RegisterSource("m", Canonical(WriteIota("m.npy", {4}))).ok());
  ASSERT_TRUE(store->EnsureLoaded("m").ok());
  ASSERT_TRUE(PutFilled(*store, "m", 7).ok());
  EXPECT_EQ(store->Info("m")->source, "");
  ASSERT_TRUE(store->Delete("m").ok());
  EXPECT_FALSE(store->NeedsLoad("m"));
}

TEST_F(SourceTest, LoadFromReplacesWhatTheNameHolds) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(PutFilled(*store, "m", 7).ok());
  ASSERT_TRUE(store->SetPinned("m", true).ok());
  absl::StatusOr<std::shared_ptr<const Segment>> old = store->Acquire("m");
  ASSERT_TRUE(old.ok()) << old.status();
  const std::string path = Canonical(WriteIota("m.npy", {4}));
  ASSERT_TRUE(store->LoadFrom("m", path).ok());
  absl::StatusOr<std::shared_ptr<const Segment>> loaded = store->Acquire("m");
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_GT((*loaded)->header().generation, (*old)->header().generation);
  EXPECT_EQ(Values(**loaded), (std::vector<int32_t>{0, 1, 2, 3}));
  absl::StatusOr<MatrixInfo> info = store->Info("m");
  EXPECT_EQ(info->source, path);
  EXPECT_TRUE(info->pinned);
  EXPECT_TRUE(AllEqual(**old, 7));  // its reader keeps the old version
  // A file that cannot be read changes nothing.
  const std::string bad = Canonical(WriteFile("bad.npy", "not an npy file"));
  EXPECT_TRUE(absl::IsInvalidArgument(store->LoadFrom("m", bad)));
  EXPECT_EQ(store->Info("m")->source, path);
  EXPECT_EQ(store->Info("m")->generation, (*loaded)->header().generation);
}

TEST_F(SourceTest, ALoadIsSealedWithTheChecksumOfItsData) {
  std::unique_ptr<Store> store = OpenStore();
  // More than two checksum blocks, copied on several threads.
  const int64_t rows = 2 * kChecksumBlockBytes / 4096 + 3;
  ASSERT_TRUE(store->LoadFrom("big", Canonical(WriteIota("big.npy", {rows, 1024}))).ok());
  ASSERT_TRUE(store->LoadFrom("small", Canonical(WriteIota("small.npy", {5}))).ok());
  for (const char* name : {"big", "small"}) {
    absl::StatusOr<std::shared_ptr<const Segment>> loaded = store->Acquire(name);
    ASSERT_TRUE(loaded.ok()) << loaded.status();
    absl::StatusOr<std::shared_ptr<const SegmentData>> data = (*loaded)->MapData();
    ASSERT_TRUE(data.ok()) << data.status();
    const SegmentHeader& header = (*loaded)->header();
    EXPECT_EQ(store->Info(name)->checksum,
              DataChecksum((*data)->data(), header.data_length, /*threads=*/1))
        << name;
    EXPECT_TRUE(Segment::OpenReadOnly((*loaded)->path(), Segment::Verify::kChecksum)
                    .ok())
        << name;
  }
  const std::vector<int32_t> values = Values(**store->Acquire("big"));
  ASSERT_EQ(values.size(), static_cast<size_t>(rows * 1024));
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(values[i], static_cast<int32_t>(i)) << i;
  }
}

TEST_F(SourceTest, SourcesSurviveARestart) {
  const std::string lazy = Canonical(WriteIota("lazy.npy", {3}));
  const std::string eager = Canonical(WriteIota("eager.npy", {3}));
  {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_TRUE(store->RegisterSource("lazy", lazy).ok());
    ASSERT_TRUE(store->RegisterSource("eager", eager).ok());
    ASSERT_TRUE(store->EnsureLoaded("eager").ok());
  }
  std::unique_ptr<Store> store = OpenStore();
  EXPECT_TRUE(store->NeedsLoad("lazy"));
  EXPECT_FALSE(store->NeedsLoad("eager"));
  EXPECT_EQ(store->Info("eager")->source, eager);
  ASSERT_TRUE(store->EnsureLoaded("lazy").ok());
  EXPECT_THAT(Values(**store->Acquire("lazy")), ElementsAre(0, 1, 2));
}

TEST_F(SourceTest, FortranBigEndianFilesLoadInMatcacheLayout) {
  // np.asfortranarray(np.arange(6, dtype='>i4').reshape(2, 3))
  std::string header = NpyHeaderFor(DType::kInt32, {2, 3});
  header.replace(header.find("'<i4'"), 5, "'>i4'");
  header.replace(header.find("False"), 5, "True ");
  const unsigned char data[] = {0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 1,
                                0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, 5};
  const std::string path = Canonical(WriteFile(
      "f.npy", header + std::string(reinterpret_cast<const char*>(data), 24)));
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(store->RegisterSource("f", path).ok());
  ASSERT_TRUE(store->EnsureLoaded("f").ok());
  EXPECT_THAT(Values(**store->Acquire("f")), ElementsAre(0, 1, 2, 3, 4, 5));
}

TEST_F(SourceTest, ALargeFortranBigEndianFileIsConvertedAPieceAtATime) {
  // About 2 MiB: several reads, their ends falling inside columns.
  const int64_t rows = 1031, cols = 517;
  std::string header = NpyHeaderFor(DType::kInt32, {rows, cols});
  header.replace(header.find("'<i4'"), 5, "'>i4'");
  header.replace(header.find("False"), 5, "True ");
  std::string data;
  for (int64_t c = 0; c < cols; ++c) {
    for (int64_t r = 0; r < rows; ++r) {
      const uint32_t value = static_cast<uint32_t>(r * cols + c);  // its C index
      for (int shift = 24; shift >= 0; shift -= 8) {
        data.push_back(static_cast<char>((value >> shift) & 0xff));
      }
    }
  }
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_TRUE(store->LoadFrom("f", Canonical(WriteFile("f.npy", header + data))).ok());
  const std::vector<int32_t> values = Values(**store->Acquire("f"));
  ASSERT_EQ(values.size(), static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < values.size(); ++i) {
    ASSERT_EQ(values[i], static_cast<int32_t>(i)) << i;
  }
}

TEST_F(SourceTest, MalformedAndShortFilesAreRefusedAtRegistration) {
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<MatrixInfo> junk =
      store->RegisterSource("j", Canonical(WriteFile("junk.npy", "not npy")));
  EXPECT_EQ(junk.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(junk.status().message(), HasSubstr("junk.npy"));
  const std::string whole = NpyHeaderFor(DType::kFloat64, {100});
  absl::StatusOr<MatrixInfo> shortened = store->RegisterSource(
      "s", Canonical(WriteFile("short.npy", whole + std::string(10, '\0'))));
  EXPECT_EQ(shortened.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(shortened.status().message(), HasSubstr("header needs"));
  EXPECT_FALSE(store->NeedsLoad("j"));
}

TEST_F(SourceTest, AShapeOfNearlyInt64MaxBytesIsRefusedWithoutOverflow) {
  // The header's size plus the data's would not fit in int64.
  const std::string header = NpyHeaderFor(DType::kUInt8, {std::numeric_limits<int64_t>::max()});
  absl::StatusOr<NpyHeader> parsed =
      HeaderOf(WriteFile("huge.npy", header + "x"));
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(parsed.status().message(), HasSubstr("header needs"));
}

TEST_F(SourceTest, PersistWritesOnlyTheCurrentVersionAndAdoptsItAfterAReboot) {
  StoreOptions options = Options();
  options.persist_dir = root();
  const std::string persisted = root() + "/m.npy";
  {
    std::unique_ptr<Store> store = OpenStore(options);
    ASSERT_TRUE(PutFilled(*store, "m", 1).ok());
    std::shared_ptr<const Segment> old = *store->Acquire("m");
    ASSERT_TRUE(PutFilled(*store, "m", 2).ok());
    // The older version's write comes too late: it is dropped.
    ASSERT_TRUE(store->Persist(old).ok());
    EXPECT_NE(access(persisted.c_str(), F_OK), 0);
    ASSERT_TRUE(store->Persist(*store->Acquire("m")).ok());
    EXPECT_EQ(store->Info("m")->source, persisted);
    absl::StatusOr<NpyHeader> header = HeaderOf(persisted);
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_THAT(header->shape, ElementsAre(kCount));
  }
  // A reboot empties the shm directory.
  for (const std::string& file : dir_.Entries()) {
    ASSERT_EQ(unlink(PathOf(file).c_str()), 0);
  }
  std::unique_ptr<Store> store = OpenStore(options);
  EXPECT_TRUE(store->AdoptPersisted().empty());
  EXPECT_TRUE(store->NeedsLoad("m"));
  ASSERT_TRUE(store->EnsureLoaded("m").ok());
  EXPECT_TRUE(AllEqual(**store->Acquire("m"), 2));
  ASSERT_TRUE(store->Delete("m").ok());
  EXPECT_NE(access(persisted.c_str(), F_OK), 0);
}

TEST_F(SourceTest, PathsMustStayInsideTheDataDirectory) {
  WriteIota("inside.npy", {2});
  ASSERT_EQ(symlink("/etc/passwd", (data_dir_.path() + "/out.npy").c_str()), 0);
  ASSERT_EQ(mkdir((data_dir_.path() + "/sub").c_str(), 0755), 0);
  EXPECT_TRUE(ResolveSourcePath(root(), "inside.npy").ok());
  EXPECT_TRUE(ResolveSourcePath(root(), root() + "/inside.npy").ok());
  for (const std::string& path :
       {std::string("/etc/passwd"), std::string("out.npy"),
        std::string("sub/../inside.npy"), std::string("../x.npy")}) {
    EXPECT_EQ(ResolveSourcePath(root(), path).status().code(),
              absl::StatusCode::kPermissionDenied)
        << path;
  }
  EXPECT_EQ(ResolveSourcePath(root(), "absent.npy").status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(ResolveSourcePath(root(), "sub").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SourceTest, APathWithANulByteIsInvalid) {
  WriteIota("good.npy", {2});
  const std::string path("good.npy\0.txt", 13);
  absl::StatusOr<std::string> resolved = ResolveSourcePath(root(), path);
  EXPECT_EQ(resolved.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(resolved.status().message(), HasSubstr("NUL"));
}

// A .npy file outside the data directory, for swaps to point at.
class OutsideFile {
 public:
  OutsideFile() {
    const std::string header = NpyHeaderFor(DType::kInt32, {2});
    const int32_t values[] = {66, 66};
    std::ofstream(path()) << header
                          << std::string(reinterpret_cast<const char*>(values), 8);
  }
  std::string dir() const { return dir_.path(); }
  std::string path() const { return dir_.path() + "/a.npy"; }

 private:
  matcache::testing::ScopedTempDir dir_;
};

TEST_F(SourceTest, AFileSwappedForASymlinkAfterALazyLoadIsNotFollowed) {
  std::unique_ptr<Store> store = OpenStore();
  const std::string path = Canonical(WriteIota("a.npy", {2}));
  ASSERT_TRUE(store->RegisterSource("a", path).ok());
  const OutsideFile outside;
  ASSERT_EQ(unlink(path.c_str()), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), path.c_str()), 0);
  absl::Status loaded = store->EnsureLoaded("a");
  EXPECT_EQ(loaded.code(), absl::StatusCode::kPermissionDenied) << loaded;
  EXPECT_THAT(loaded.message(), HasSubstr(path));
  EXPECT_FALSE(store->Contains("a"));
}

TEST_F(SourceTest, ADirectorySwappedForASymlinkAfterALazyLoadIsNotFollowed) {
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_EQ(mkdir((root() + "/sub").c_str(), 0755), 0);
  const std::string path = Canonical(WriteIota("sub/a.npy", {2}));
  ASSERT_TRUE(store->RegisterSource("a", path).ok());
  const OutsideFile outside;
  ASSERT_EQ(rename((root() + "/sub").c_str(), (root() + "/old").c_str()), 0);
  ASSERT_EQ(symlink(outside.dir().c_str(), (root() + "/sub").c_str()), 0);
  EXPECT_EQ(store->EnsureLoaded("a").code(), absl::StatusCode::kPermissionDenied);
  EXPECT_FALSE(store->Contains("a"));
}

TEST_F(SourceTest, AFifoSourceFailsAtOnceAndStartsNoBlockedRead) {
  const std::string path = Canonical(WriteIota("a.npy", {2}));
  {
    std::unique_ptr<Store> store = OpenStore();
    ASSERT_TRUE(store->RegisterSource("a", path).ok());
    ASSERT_EQ(unlink(path.c_str()), 0);
    ASSERT_EQ(mkfifo(path.c_str(), 0666), 0);
    // No writer will ever open the FIFO: a blocking open would never return.
    absl::Status loaded = store->EnsureLoaded("a");
    EXPECT_EQ(loaded.code(), absl::StatusCode::kInvalidArgument) << loaded;
    EXPECT_THAT(loaded.message(), HasSubstr("not a regular file"));
  }
  // A FIFO among the sources at start does not stop the store from opening.
  std::unique_ptr<Store> store = OpenStore();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->EnsureLoaded("a").code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SourceTest, SourcesOutsideTheirDirectoriesAreRefused) {
  const OutsideFile outside;
  std::unique_ptr<Store> store = OpenStore();
  absl::StatusOr<MatrixInfo> registered = store->RegisterSource("a", outside.path());
  EXPECT_EQ(registered.status().code(), absl::StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace matcache
