#include "matcache/dtype.h"

#include "gtest/gtest.h"

namespace matcache {
namespace {

TEST(DTypeTest, TableMatchesNumpy) {
  struct Expected {
    DType dtype;
    const char* name;
    int64_t item_size;
    const char* numpy_str;
  };
  const Expected expected[] = {
      {DType::kBool, "bool", 1, "|b1"},
      {DType::kInt8, "int8", 1, "|i1"},
      {DType::kInt16, "int16", 2, "<i2"},
      {DType::kInt32, "int32", 4, "<i4"},
      {DType::kInt64, "int64", 8, "<i8"},
      {DType::kUInt8, "uint8", 1, "|u1"},
      {DType::kUInt16, "uint16", 2, "<u2"},
      {DType::kUInt32, "uint32", 4, "<u4"},
      {DType::kUInt64, "uint64", 8, "<u8"},
      {DType::kFloat16, "float16", 2, "<f2"},
      {DType::kFloat32, "float32", 4, "<f4"},
      {DType::kFloat64, "float64", 8, "<f8"},
      {DType::kComplex64, "complex64", 8, "<c8"},
      {DType::kComplex128, "complex128", 16, "<c16"},
  };
  ASSERT_EQ(AllDTypes().size(), std::size(expected));
  for (const Expected& e : expected) {
    const DTypeInfo& info = GetDTypeInfo(e.dtype);
    EXPECT_EQ(info.name, e.name);
    EXPECT_EQ(info.item_size, e.item_size) << e.name;
    EXPECT_EQ(info.numpy_str, e.numpy_str) << e.name;
  }
}

TEST(DTypeTest, CodesRoundTrip) {
  for (const DTypeInfo& info : AllDTypes()) {
    absl::StatusOr<DTypeInfo> found =
        DTypeFromCode(static_cast<uint32_t>(info.dtype));
    ASSERT_TRUE(found.ok()) << found.status();
    EXPECT_EQ(found->dtype, info.dtype);
  }
}

TEST(DTypeTest, UnknownCodesAreRefused) {
  for (uint32_t code : {0u, 15u, 0xffffffffu}) {
    absl::StatusOr<DTypeInfo> found = DTypeFromCode(code);
    EXPECT_EQ(found.status().code(), absl::StatusCode::kInvalidArgument)
        << code;
  }
}

TEST(DTypeTest, NamesAndNumpyStringsAreAccepted) {
  EXPECT_EQ(DTypeFromName("float64")->dtype, DType::kFloat64);
  EXPECT_EQ(DTypeFromName("<f8")->dtype, DType::kFloat64);
  EXPECT_EQ(DTypeFromName("|b1")->dtype, DType::kBool);
  EXPECT_EQ(DTypeFromName("complex128")->dtype, DType::kComplex128);
}

TEST(DTypeTest, UnsupportedNamesAreRefused) {
  for (const char* name : {"", "object", "<U8", ">f8", "float128", "V16"}) {
    absl::StatusOr<DTypeInfo> found = DTypeFromName(name);
    EXPECT_EQ(found.status().code(), absl::StatusCode::kInvalidArgument)
        << name;
  }
}

}  // namespace
}  // namespace matcache
