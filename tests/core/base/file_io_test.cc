#include "server/core/base/file_io.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

TEST(FileIoTest, WritesAndReadsAtAnOffset) {
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/f";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  const std::string text = "hello, file";
  ASSERT_TRUE(WriteAt(fd, text.data(), text.size(), 5, path).ok());
  std::string back(text.size(), '\0');
  absl::StatusOr<size_t> got = ReadAt(fd, back.data(), back.size(), 5, path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, text.size());
  EXPECT_EQ(back, text);
  // Where the file ends, fewer.
  got = ReadAt(fd, back.data(), back.size(), 10, path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, text.size() - 5);
  EXPECT_EQ(back.substr(0, *got), ", file");
  got = ReadAt(fd, back.data(), back.size(), 1000, path);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(*got, 0u);
  EXPECT_EQ(lseek(fd, 0, SEEK_CUR), 0);  // the position does not move
  close(fd);
}

TEST(FileIoTest, ErrorsNameTheFile) {
  testing::ScopedTempDir dir;
  const std::string path = dir.path() + "/f";
  const int fd = open(path.c_str(), O_RDONLY | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(fd, 0);
  absl::Status written = WriteAt(fd, "x", 1, 0, path);
  EXPECT_THAT(written.message(), HasSubstr("write " + path));
  close(fd);
  char byte;
  absl::StatusOr<size_t> got = ReadAt(fd, &byte, 1, 0, path);  // closed
  EXPECT_THAT(got.status().message(), HasSubstr("read " + path));
}

}  // namespace
}  // namespace matcache
