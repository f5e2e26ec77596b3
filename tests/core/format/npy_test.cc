#include "server/core/format/npy.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// An .npy header of format `major`.0 around the dictionary text `dict`, laid
// out as numpy lays it out (padded with spaces and a newline to 64 bytes).
std::string Header(int major, std::string dict) {
  const size_t preamble = major == 1 ? 10 : 12;
  const size_t padded = (preamble + dict.size() + 1 + 63) / 64 * 64;
  dict.append(padded - preamble - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out("\x93NUMPY", 6);
  out.push_back(static_cast<char>(major));
  out.push_back('\0');
  for (size_t i = 0; i < preamble - 8; ++i) {
    out.push_back(static_cast<char>((dict.size() >> (8 * i)) & 0xff));
  }
  return out + dict;
}

absl::StatusOr<NpyHeader> Parse(const std::string& header) {
  absl::StatusOr<int64_t> size = NpyHeaderSize(header);
  EXPECT_TRUE(size.ok()) << size.status();
  EXPECT_EQ(*size, static_cast<int64_t>(header.size()));
  return ParseNpyHeader(header);
}

TEST(NpyTest, ParsesWhatNumpyWrites) {
  absl::StatusOr<NpyHeader> big = Parse(
      Header(1, "{'descr': '>i4', 'fortran_order': False, 'shape': (2, 3), }"));
  ASSERT_TRUE(big.ok()) << big.status();
  EXPECT_EQ(big->dtype, DType::kInt32);
  EXPECT_TRUE(big->big_endian);
  EXPECT_FALSE(big->fortran_order);
  EXPECT_THAT(big->shape, ElementsAre(2, 3));
  EXPECT_EQ(big->data_offset, 128);
  EXPECT_EQ(big->data_bytes, 24);

  absl::StatusOr<NpyHeader> v3 = Parse(
      Header(3, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }"));
  ASSERT_TRUE(v3.ok()) << v3.status();
  EXPECT_EQ(v3->dtype, DType::kComplex64);
  EXPECT_THAT(v3->shape, ElementsAre(3));

  absl::StatusOr<NpyHeader> scalar = Parse(
      Header(2, "{'descr': '|b1', 'fortran_order': False, 'shape': (), }"));
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_EQ(scalar->dtype, DType::kBool);
  EXPECT_TRUE(scalar->shape.empty());
  EXPECT_EQ(scalar->data_bytes, 1);

  // Python 2 wrote longs and other key orders and quotes are valid too.
  absl::StatusOr<NpyHeader> old = Parse(
      Header(1, "{\"shape\": (4L, 5L), \"fortran_order\": True, \"descr\": \"<f2\"}"));
  ASSERT_TRUE(old.ok()) << old.status();
  EXPECT_EQ(old->dtype, DType::kFloat16);
  EXPECT_TRUE(old->fortran_order);
  EXPECT_THAT(old->shape, ElementsAre(4, 5));
}

TEST(NpyTest, EveryStoredDTypeInBothByteOrders) {
  for (const DTypeInfo& info : AllDTypes()) {
    for (char order : {'<', '>', '|', '='}) {
      const std::string descr = absl::StrCat(std::string(1, order),
                                             info.numpy_str.substr(1));
      absl::StatusOr<NpyHeader> header = Parse(Header(
          1, absl::StrCat("{'descr': '", descr,
                          "', 'fortran_order': False, 'shape': (2,), }")));
      ASSERT_TRUE(header.ok()) << descr << ": " << header.status();
      EXPECT_EQ(header->dtype, info.dtype) << descr;
      EXPECT_EQ(header->big_endian, order == '>' && info.item_size > 1) << descr;
    }
  }
}

TEST(NpyTest, WrittenHeadersParseBack) {
  for (const std::vector<int64_t>& shape :
       std::vector<std::vector<int64_t>>{{}, {7}, {3, 0, 2}, {1000, 2000}}) {
    const std::string header = NpyHeaderFor(DType::kFloat32, shape);
    EXPECT_EQ(header.size() % 64, 0u);
    absl::StatusOr<NpyHeader> parsed = Parse(header);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->dtype, DType::kFloat32);
    EXPECT_FALSE(parsed->big_endian);
    EXPECT_FALSE(parsed->fortran_order);
    EXPECT_EQ(parsed->shape, shape);
  }
  EXPECT_EQ(NpyHeaderFor(DType::kInt64, {2, 3}),
            Header(1, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }"));
}

TEST(NpyTest, MalformedHeadersAreRefusedClearly) {
  struct Case {
    std::string header;
    const char* message;
  };
  const std::vector<Case> cases = {
      {"not an npy file at all", "bad magic"},
      {std::string("\x93NUMPY\x04\x00\x10\x00", 8) + "    ", "version 4"},
      {Header(1, "{'descr': '<f8', 'fortran_order': False}"), "lacks"},
      {Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'x': 1}"),
       "unexpected key"},
      {Header(1, "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }"),
       "unsupported .npy dtype '|O'"},
      {Header(1, "{'descr': '<U8', 'fortran_order': False, 'shape': (2,), }"),
       "unsupported .npy dtype"},
      {Header(1, "{'descr': [('a', '<i4')], 'fortran_order': False, 'shape': (2,), }"),
       "structured"},
      {Header(1, "{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2,), }"),
       "neither True nor False"},
      {Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }"),
       "non-negative integers"},
      {Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }"),
       "overflow"},
      {Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (0), }"),
       "not a tuple"},
      {Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), } trailing"),
       "text after"},
      {Header(1, "{'descr: '<f8'}"), "no ':' after"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<NpyHeader> parsed = ParseNpyHeader(c.header);
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_THAT(parsed.status().message(), HasSubstr(c.message));
  }
  // A header cut short.
  const std::string whole =
      Header(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }");
  absl::StatusOr<NpyHeader> cut = ParseNpyHeader(whole.substr(0, 40));
  EXPECT_THAT(cut.status().message(), HasSubstr("ends inside"));
}

}  // namespace
}  // namespace matcache
