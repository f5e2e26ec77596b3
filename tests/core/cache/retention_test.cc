#include "server/core/cache/retention.h"

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;

TEST(RetentionTest, TableRoundTripsThroughItsFile) {
  testing::ScopedTempDir dir;
  const std::string path = absl::StrCat(dir.path(), "/t.retention");
  RetentionTable table;
  table["a"] = Retention{true, absl::InfiniteFuture(), 3};
  table["b"] = Retention{false, absl::FromUnixSeconds(2000), 4};
  table["c"] = Retention{};  // default: not written
  ASSERT_TRUE(WriteRetentionTable(path, table).ok());
  absl::StatusOr<RetentionTable> read = ReadRetentionTable(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_TRUE(read->at("a").pinned);
  EXPECT_EQ(read->at("b").expires, absl::FromUnixSeconds(2000));
  EXPECT_EQ(read->at("b").generation, 4u);
}

TEST(RetentionTest, BookWritesOnlyChangesAndForgetsDefaults) {
  testing::ScopedTempDir dir;
  const std::string path = absl::StrCat(dir.path(), "/t.retention");
  RetentionBook book(path, {});
  ASSERT_TRUE(book.Write().ok());
  EXPECT_TRUE(dir.Entries().empty());  // nothing changed: nothing written
  book.Set("a", Retention{true, absl::InfiniteFuture(), 1});
  book.Set("b", Retention{false, absl::FromUnixSeconds(100), 2});
  ASSERT_TRUE(book.Write().ok());
  EXPECT_TRUE(ReadRetentionTable(path)->at("a").pinned);
  book.Set("a", Retention());
  EXPECT_FALSE(book.Get("a").pinned);
  ASSERT_TRUE(book.Write().ok());
  EXPECT_EQ(ReadRetentionTable(path)->count("a"), 0u);
  EXPECT_THAT(book.ExpiredBefore(absl::FromUnixSeconds(101)), ElementsAre("b"));
  EXPECT_TRUE(book.ExpiredBefore(absl::FromUnixSeconds(100)).empty());
}

TEST(RetentionTest, UndoLeavesNothingToWrite) {
  testing::ScopedTempDir dir;
  const std::string path = absl::StrCat(dir.path(), "/t.retention");
  RetentionBook book(path, {{"a", Retention{true, absl::InfiniteFuture(), 1}}});
  const Retention before = book.Get("a");
  book.Set("a", Retention{false, absl::InfiniteFuture(), 1});
  book.Undo("a", before);
  EXPECT_TRUE(book.Get("a").pinned);
  ASSERT_TRUE(book.Write().ok());
  EXPECT_TRUE(dir.Entries().empty());
}

}  // namespace
}  // namespace matcache
