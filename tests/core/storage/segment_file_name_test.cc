#include "server/core/storage/segment_file_name.h"

#include "gtest/gtest.h"

namespace matcache {
namespace {

TEST(SegmentFileNameTest, FormatsAsDocumented) {
  EXPECT_EQ(PublishedFileName("matcache", "prices", 7), "matcache.prices.7.shm");
  EXPECT_EQ(StagingFileName("matcache", "prices", 8),
            "matcache.prices.8.staging.shm");
  EXPECT_EQ(SpareFileName("matcache", 9), "matcache.9.spare.shm");
  EXPECT_EQ(QuarantineFileName("matcache.prices.7.shm"),
            "matcache.prices.7.shm.quarantined");
}

TEST(SegmentFileNameTest, RoundTripsNamesWithDotsAndDigits) {
  for (const char* name : {"prices", "a.5", "x.staging", "v1.shm", "b.9.shm"}) {
    std::optional<SegmentFileName> published =
        ParseSegmentFileName("ns", PublishedFileName("ns", name, 12));
    ASSERT_TRUE(published.has_value()) << name;
    EXPECT_EQ(published->kind, SegmentFileKind::kPublished);
    EXPECT_EQ(published->name, name);
    EXPECT_EQ(published->number, 12u);

    std::optional<SegmentFileName> staging =
        ParseSegmentFileName("ns", StagingFileName("ns", name, 3));
    ASSERT_TRUE(staging.has_value()) << name;
    EXPECT_EQ(staging->kind, SegmentFileKind::kStaging);
    EXPECT_EQ(staging->name, name);
    EXPECT_EQ(staging->number, 3u);
  }
}

TEST(SegmentFileNameTest, SparesParseApartFromMatricesNamedLikeThem) {
  std::optional<SegmentFileName> spare =
      ParseSegmentFileName("ns", SpareFileName("ns", 41));
  ASSERT_TRUE(spare.has_value());
  EXPECT_EQ(spare->kind, SegmentFileKind::kSpare);
  EXPECT_EQ(spare->name, "");
  EXPECT_EQ(spare->number, 41u);
  // A matrix named "spare" or "9.spare" is a matrix, never a spare.
  for (const char* name : {"spare", "9.spare"}) {
    for (const std::string& file :
         {PublishedFileName("ns", name, 5), StagingFileName("ns", name, 5)}) {
      std::optional<SegmentFileName> parsed = ParseSegmentFileName("ns", file);
      ASSERT_TRUE(parsed.has_value()) << file;
      EXPECT_NE(parsed->kind, SegmentFileKind::kSpare) << file;
      EXPECT_EQ(parsed->name, name) << file;
    }
  }
}

TEST(SegmentFileNameTest, IgnoresFilesThatAreNotOurs) {
  const char* foreign[] = {
      "other.prices.1.shm",            // another namespace
      "nsx.prices.1.shm",              // a namespace that merely starts alike
      "ns.prices.shm",                 // no generation
      "ns.prices.0.shm",               // generation 0 is never assigned
      "ns.prices.1x.shm",              // not a number
      "ns.prices.-1.shm",              // not a number
      "ns..hidden.1.shm",              // invalid name
      "ns.prices.1.shm.quarantined",   // set aside
      "ns.lock",                       // the namespace lock
      "ns.0.spare.shm",                // spare 0 is never made
      "ns.x.spare.shm",                // a spare without a number
      "ns..spare.shm",                 // nor this
      "ns.prices.99999999999999999999.shm",  // overflows u64
      "psm_4d2f1a.shm",                // someone's shared_memory segment
  };
  for (const char* file_name : foreign) {
    EXPECT_FALSE(ParseSegmentFileName("ns", file_name).has_value())
        << file_name;
  }
}

}  // namespace
}  // namespace matcache
