#include "server/core/format/header.h"

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/core/format/checksum.h"

namespace matcache {
namespace {

using ::testing::HasSubstr;

// Offsets from the layout documented in header.h.
constexpr size_t kVersionOffset = 8;
constexpr size_t kStateOffset = 12;
constexpr size_t kDTypeOffset = 40;
constexpr size_t kNdimOffset = 44;
constexpr size_t kDataOffsetOffset = 48;
constexpr size_t kDataLengthOffset = 56;
constexpr size_t kHeaderChecksumOffset = 80;
constexpr size_t kNameLengthOffset = 88;
constexpr size_t kSourceLengthOffset = 92;
constexpr size_t kShapeOffset = 96;
constexpr size_t kStridesOffset = 352;
constexpr size_t kNameOffset = 608;

SegmentHeader SampleHeader() {
  absl::StatusOr<SegmentHeader> header =
      MakeStagingHeader("prices", {3, 4}, DType::kFloat32, "/data/p.npy");
  EXPECT_TRUE(header.ok()) << header.status();
  header->state = SegmentState::kSealed;
  header->generation = 42;
  header->data_checksum = 0x0123456789abcdefULL;
  return *header;
}

std::vector<char> Encoded(const SegmentHeader& header) {
  std::vector<char> page(kHeaderSize);
  EncodeHeader(header, absl::MakeSpan(page));
  return page;
}

template <typename T>
void Patch(std::vector<char>& page, size_t offset, T value) {
  std::memcpy(page.data() + offset, &value, sizeof(T));
}

// Rewrites the header checksum so that only the field under test is wrong.
void Reseal(std::vector<char>& page) {
  Patch<uint64_t>(page, kHeaderChecksumOffset, 0);
  Patch<uint64_t>(page, kHeaderChecksumOffset,
                  Checksum(page.data(), page.size()));
}

void ExpectCorrupt(const std::vector<char>& page, const std::string& what) {
  absl::StatusOr<SegmentHeader> decoded = DecodeHeader(page);
  EXPECT_EQ(decoded.status().code(), absl::StatusCode::kDataLoss) << what;
  EXPECT_THAT(decoded.status().message(), HasSubstr(what));
}

TEST(HeaderTest, RoundTrip) {
  const SegmentHeader header = SampleHeader();
  absl::StatusOr<SegmentHeader> decoded = DecodeHeader(Encoded(header));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->state, SegmentState::kSealed);
  EXPECT_EQ(decoded->id, header.id);
  EXPECT_EQ(decoded->generation, 42u);
  EXPECT_EQ(decoded->dtype, DType::kFloat32);
  EXPECT_EQ(decoded->shape, (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(decoded->strides, (std::vector<int64_t>{16, 4}));
  EXPECT_EQ(decoded->data_offset, kHeaderSize);
  EXPECT_EQ(decoded->data_length, 48u);
  EXPECT_EQ(decoded->created_unix_nanos, header.created_unix_nanos);
  EXPECT_EQ(decoded->data_checksum, 0x0123456789abcdefULL);
  EXPECT_EQ(decoded->name, "prices");
  EXPECT_EQ(decoded->source, "/data/p.npy");
}

TEST(HeaderTest, OriginalDTypeRoundTripsAndDefaultsToTheStoredOne) {
  SegmentHeader header = SampleHeader();  // float32
  absl::StatusOr<SegmentHeader> same = DecodeHeader(Encoded(header));
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->original_dtype, DType::kFloat32);
  header.original_dtype = DType::kFloat64;
  std::vector<char> page = Encoded(header);
  absl::StatusOr<SegmentHeader> converted = DecodeHeader(page);
  ASSERT_TRUE(converted.ok()) << converted.status();
  EXPECT_EQ(converted->dtype, DType::kFloat32);
  EXPECT_EQ(converted->original_dtype, DType::kFloat64);

  Patch<uint32_t>(page, 1888, 77);
  Reseal(page);
  ExpectCorrupt(page, "original unsupported dtype code 77");
}

TEST(HeaderTest, RoundTripOfZeroDimensionalAndMaxRank) {
  absl::StatusOr<SegmentHeader> scalar =
      MakeStagingHeader("s", {}, DType::kComplex128, "");
  ASSERT_TRUE(scalar.ok());
  absl::StatusOr<SegmentHeader> decoded = DecodeHeader(Encoded(*scalar));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->shape.empty());
  EXPECT_EQ(decoded->data_length, 16u);

  absl::StatusOr<SegmentHeader> wide =
      MakeStagingHeader("w", std::vector<int64_t>(32, 1), DType::kBool, "");
  ASSERT_TRUE(wide.ok());
  decoded = DecodeHeader(Encoded(*wide));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->shape.size(), 32u);
}

TEST(HeaderTest, IdsAreRandom) {
  EXPECT_NE(SegmentId::Random(), SegmentId::Random());
  EXPECT_EQ(SegmentId::Random().ToHex().size(), 32u);
}

TEST(HeaderTest, MakeStagingHeaderRefusesBadInput) {
  EXPECT_EQ(MakeStagingHeader("../x", {1}, DType::kInt8, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeStagingHeader("x", {-1}, DType::kInt8, "").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeStagingHeader("x", {1}, DType::kInt8, std::string(1025, 's'))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(HeaderTest, ShortPageIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  page.resize(100);
  ExpectCorrupt(page, "only 100 of 4096");
}

TEST(HeaderTest, WrongMagicIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  page[0] = 'X';
  ExpectCorrupt(page, "bad magic");
}

TEST(HeaderTest, UnknownVersionIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint32_t>(page, kVersionOffset, 2);
  Reseal(page);
  ExpectCorrupt(page, "format version 2");
}

TEST(HeaderTest, FlippedByteAnywhereIsRejected) {
  const std::vector<char> good = Encoded(SampleHeader());
  // Every field and a byte of the reserved tail.
  for (size_t offset : {16u, 33u, 64u, 72u, 100u, 360u, 610u, 870u, 4000u}) {
    std::vector<char> page = good;
    page[offset] ^= 0x01;
    ExpectCorrupt(page, "header checksum mismatch");
  }
}

TEST(HeaderTest, UnknownStateIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint32_t>(page, kStateOffset, 7);
  Reseal(page);
  ExpectCorrupt(page, "unknown state 7");
}

TEST(HeaderTest, UnknownDTypeIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint32_t>(page, kDTypeOffset, 99);
  Reseal(page);
  ExpectCorrupt(page, "dtype code 99");
}

TEST(HeaderTest, TooManyDimensionsAreRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint32_t>(page, kNdimOffset, 33);
  Reseal(page);
  ExpectCorrupt(page, "ndim 33");
}

TEST(HeaderTest, NegativeExtentIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<int64_t>(page, kShapeOffset, -3);
  Reseal(page);
  ExpectCorrupt(page, "negative");
}

TEST(HeaderTest, OverflowingShapeIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<int64_t>(page, kShapeOffset, int64_t{1} << 40);
  Patch<int64_t>(page, kShapeOffset + 8, int64_t{1} << 40);
  Reseal(page);
  ExpectCorrupt(page, "overflow");
}

TEST(HeaderTest, NonContiguousStridesAreRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<int64_t>(page, kStridesOffset, 4);  // Fortran order
  Reseal(page);
  ExpectCorrupt(page, "C-contiguous");
}

TEST(HeaderTest, WrongDataOffsetIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint64_t>(page, kDataOffsetOffset, 0);
  Reseal(page);
  ExpectCorrupt(page, "data offset 0");
}

TEST(HeaderTest, DataLengthNotMatchingShapeIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint64_t>(page, kDataLengthOffset, 47);
  Reseal(page);
  ExpectCorrupt(page, "data length 47");
}

TEST(HeaderTest, InvalidNameIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  page[kNameOffset] = '/';
  Reseal(page);
  ExpectCorrupt(page, "name");

  page = Encoded(SampleHeader());
  Patch<uint32_t>(page, kNameLengthOffset, 300);
  Reseal(page);
  ExpectCorrupt(page, "name length 300");
}

TEST(HeaderTest, OverlongSourceIsRejected) {
  std::vector<char> page = Encoded(SampleHeader());
  Patch<uint32_t>(page, kSourceLengthOffset, 5000);
  Reseal(page);
  ExpectCorrupt(page, "source length 5000");
}

}  // namespace
}  // namespace matcache
