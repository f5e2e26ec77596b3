#include "server/http/zarr_layout.h"

#include <cstdint>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace matcache {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kMiB = int64_t{1} << 20;

void ExpectChunk(const ZarrLayout& layout, const std::string& key,
                 int64_t offset, int64_t data_bytes, int64_t padding_bytes) {
  absl::StatusOr<ZarrChunk> chunk = FindZarrChunk(layout, key);
  ASSERT_TRUE(chunk.ok()) << key << ": " << chunk.status();
  EXPECT_EQ(chunk->offset, offset) << key;
  EXPECT_EQ(chunk->data_bytes, data_bytes) << key;
  EXPECT_EQ(chunk->padding_bytes, padding_bytes) << key;
  EXPECT_EQ(chunk->data_bytes + chunk->padding_bytes, layout.chunk_bytes);
}

void ExpectNoChunk(const ZarrLayout& layout, const std::string& key) {
  EXPECT_EQ(FindZarrChunk(layout, key).status().code(),
            absl::StatusCode::kNotFound)
      << key;
}

TEST(ZarrLayoutTest, SmallMatrixIsOneChunk) {
  const ZarrLayout layout = MakeZarrLayout({1000, 3}, DType::kFloat32);
  EXPECT_THAT(layout.chunks, ElementsAre(1000, 3));
  EXPECT_EQ(layout.row_bytes, 12);
  EXPECT_EQ(layout.chunk_bytes, 12000);
  EXPECT_EQ(layout.chunk_count, 1);
  ExpectChunk(layout, "0.0", 0, 12000, 0);
  ExpectNoChunk(layout, "1.0");
}

TEST(ZarrLayoutTest, ChunksHoldWholeRowsOfAtMostTheTarget) {
  // 8000-byte rows: 2097 of them fit in 16 MiB.
  const ZarrLayout layout = MakeZarrLayout({5000, 1000}, DType::kFloat64);
  EXPECT_THAT(layout.chunks, ElementsAre(2097, 1000));
  EXPECT_EQ(layout.chunk_bytes, 2097 * 8000);
  EXPECT_GT(layout.chunk_bytes, kZarrChunkTargetBytes / 2);
  EXPECT_LE(layout.chunk_bytes, kZarrChunkTargetBytes);
  EXPECT_EQ(layout.chunk_count, 3);
  ExpectChunk(layout, "0.0", 0, 2097 * 8000, 0);
  ExpectChunk(layout, "1.0", 2097 * 8000, 2097 * 8000, 0);
  // The edge chunk: the last 806 rows, then 1291 rows of padding.
  ExpectChunk(layout, "2.0", 2 * 2097 * 8000, 806 * 8000, 1291 * 8000);
  ExpectNoChunk(layout, "3.0");
}

TEST(ZarrLayoutTest, OneDimensionalAndThreeDimensional) {
  const ZarrLayout line = MakeZarrLayout({5 * kMiB}, DType::kInt8);
  EXPECT_THAT(line.chunks, ElementsAre(5 * kMiB));
  EXPECT_EQ(line.chunk_count, 1);
  ExpectChunk(line, "0", 0, 5 * kMiB, 0);

  const ZarrLayout longer = MakeZarrLayout({3 * kMiB}, DType::kComplex128);
  EXPECT_THAT(longer.chunks, ElementsAre(kMiB));
  EXPECT_EQ(longer.chunk_count, 3);
  ExpectChunk(longer, "2", 32 * kMiB, 16 * kMiB, 0);

  // 2 MiB rows: 8 to a chunk, the edge chunk half padding.
  const ZarrLayout cube = MakeZarrLayout({20, 1024, 1024}, DType::kUInt16);
  EXPECT_THAT(cube.chunks, ElementsAre(8, 1024, 1024));
  EXPECT_EQ(cube.chunk_count, 3);
  ExpectChunk(cube, "2.0.0", 32 * kMiB, 8 * kMiB, 8 * kMiB);
  ExpectNoChunk(cube, "2.0");
  ExpectNoChunk(cube, "2.0.1");
  // Fewer rows than a chunk could hold: one chunk of them all.
  EXPECT_THAT(MakeZarrLayout({7, 1024, 1024}, DType::kUInt16).chunks,
              ElementsAre(7, 1024, 1024));
}

TEST(ZarrLayoutTest, RowsLargerThanTheTargetAreChunksOfOneRow) {
  const ZarrLayout layout = MakeZarrLayout({3, 3 * kMiB}, DType::kFloat64);
  EXPECT_THAT(layout.chunks, ElementsAre(1, 3 * kMiB));
  EXPECT_EQ(layout.chunk_bytes, 24 * kMiB);
  EXPECT_EQ(layout.chunk_count, 3);
  ExpectChunk(layout, "2.0", 48 * kMiB, 24 * kMiB, 0);
}

TEST(ZarrLayoutTest, ZeroDimensionalIsOneChunkOfOneElement) {
  const ZarrLayout layout = MakeZarrLayout({}, DType::kComplex64);
  EXPECT_THAT(layout.chunks, IsEmpty());
  EXPECT_EQ(layout.chunk_count, 1);
  EXPECT_EQ(layout.chunk_bytes, 8);
  ExpectChunk(layout, "0", 0, 8, 0);
  ExpectNoChunk(layout, "1");
  ExpectNoChunk(layout, "0.0");
  ExpectNoChunk(layout, "");
}

TEST(ZarrLayoutTest, ZeroSizeMatricesHaveNoChunks) {
  const ZarrLayout empty = MakeZarrLayout({0}, DType::kFloat64);
  EXPECT_THAT(empty.chunks, ElementsAre(1));
  EXPECT_EQ(empty.chunk_count, 0);
  ExpectNoChunk(empty, "0");

  const ZarrLayout no_columns = MakeZarrLayout({5, 0, 3}, DType::kInt16);
  EXPECT_THAT(no_columns.chunks, ElementsAre(5, 1, 3));
  EXPECT_EQ(no_columns.chunk_count, 0);
  ExpectNoChunk(no_columns, "0.0.0");

  const ZarrLayout no_rows = MakeZarrLayout({0, 4}, DType::kBool);
  EXPECT_THAT(no_rows.chunks, ElementsAre(1, 4));
  EXPECT_EQ(no_rows.chunk_count, 0);
  absl::StatusOr<ZarrChunk> chunk = FindZarrChunk(no_rows, "0.0");
  EXPECT_THAT(chunk.status().message(), HasSubstr("no elements"));
}

TEST(ZarrLayoutTest, MalformedOrOutsideKeysAreNotFound) {
  const ZarrLayout layout = MakeZarrLayout({5000, 1000}, DType::kFloat64);
  for (const char* key :
       {"", "0", "0.0.0", "0.1", "1.0.", ".0", "00.0", "+1.0", "-1.0", "1 .0",
        "a.0", "0.00", "3.0", "99999999999999999999.0", "1e0.0", "0x1.0", "0/0",
        "0.-0"}) {
    ExpectNoChunk(layout, key);
  }
  absl::StatusOr<ZarrChunk> chunk = FindZarrChunk(layout, "3.0");
  EXPECT_THAT(chunk.status().message(), HasSubstr("are 0.0 to 2.0"));
}

TEST(ZarrLayoutTest, ArrayMetadata) {
  const ZarrLayout layout = MakeZarrLayout({5000, 1000}, DType::kFloat64);
  EXPECT_EQ(ZarrArrayJson(layout), nlohmann::json::parse(R"({
      "zarr_format": 2, "shape": [5000, 1000], "chunks": [2097, 1000],
      "dtype": "<f8", "compressor": null, "filters": null, "order": "C",
      "fill_value": 0.0, "dimension_separator": "."})"));
  const nlohmann::json scalar =
      ZarrArrayJson(MakeZarrLayout({}, DType::kInt64));
  EXPECT_EQ(scalar["shape"], nlohmann::json::array());
  EXPECT_EQ(scalar["chunks"], nlohmann::json::array());
}

TEST(ZarrLayoutTest, DTypesAndFillValues) {
  auto metadata = [](DType dtype) {
    return ZarrArrayJson(MakeZarrLayout({2}, dtype));
  };
  EXPECT_EQ(metadata(DType::kBool)["dtype"], "|b1");
  EXPECT_EQ(metadata(DType::kBool)["fill_value"], false);
  EXPECT_EQ(metadata(DType::kInt8)["dtype"], "|i1");
  EXPECT_EQ(metadata(DType::kUInt8)["dtype"], "|u1");
  EXPECT_EQ(metadata(DType::kUInt16)["dtype"], "<u2");
  EXPECT_TRUE(metadata(DType::kUInt16)["fill_value"].is_number_integer());
  EXPECT_EQ(metadata(DType::kFloat16)["dtype"], "<f2");
  EXPECT_TRUE(metadata(DType::kFloat16)["fill_value"].is_number_float());
  EXPECT_EQ(metadata(DType::kComplex64)["dtype"], "<c8");
  EXPECT_EQ(metadata(DType::kComplex128)["dtype"], "<c16");
  EXPECT_EQ(metadata(DType::kComplex128)["fill_value"],
            nlohmann::json::parse("[0.0, 0.0]"));
}

}  // namespace
}  // namespace matcache
