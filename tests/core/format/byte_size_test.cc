#include "server/core/format/byte_size.h"

#include "gtest/gtest.h"

namespace matcache {
namespace {

TEST(ByteSizeTest, AcceptsPlainNumbersAndBinarySuffixes) {
  EXPECT_EQ(*ParseByteSize("0"), 0);
  EXPECT_EQ(*ParseByteSize("4096"), 4096);
  EXPECT_EQ(*ParseByteSize("8K"), 8192);
  EXPECT_EQ(*ParseByteSize("512m"), int64_t{512} << 20);
  EXPECT_EQ(*ParseByteSize("8G"), int64_t{8} << 30);
  EXPECT_EQ(*ParseByteSize("2T"), int64_t{2} << 40);
}

TEST(ByteSizeTest, RefusesAnythingElse) {
  for (const char* text : {"", "G", "-1", "1.5G", "12X", " 8G", "8 G", "8GB",
                           "9223372036854775808", "9000000000G"}) {
    EXPECT_EQ(ParseByteSize(text).status().code(),
              absl::StatusCode::kInvalidArgument)
        << text;
  }
}

}  // namespace
}  // namespace matcache
