#include "server/core/storage/mount_info.h"

#include "gtest/gtest.h"

namespace matcache {
namespace {

constexpr char kMounts[] =
    "/dev/vda / ext4 rw,relatime 0 0\n"
    "tmpfs /dev/shm tmpfs rw,nosuid,nodev,size=25165824k 0 0\n"
    "tmpfs /mnt/huge tmpfs rw,relatime,size=8388608k,huge=within_size 0 0\n"
    "tmpfs /mnt/huge2 tmpfs rw,huge=always 0 0\n";

TEST(MountInfoTest, PicksTheLongestContainingMountPoint) {
  MountInfo shm = FindMount(kMounts, "/dev/shm/matcache");
  EXPECT_EQ(shm.mount_point, "/dev/shm");
  EXPECT_EQ(shm.fs_type, "tmpfs");
  EXPECT_EQ(shm.huge_pages, "never");

  MountInfo huge = FindMount(kMounts, "/mnt/huge");
  EXPECT_EQ(huge.mount_point, "/mnt/huge");
  EXPECT_EQ(huge.huge_pages, "within_size");

  MountInfo root = FindMount(kMounts, "/mnt/huge2x/data");
  EXPECT_EQ(root.mount_point, "/");
  EXPECT_EQ(root.fs_type, "ext4");
  EXPECT_EQ(root.huge_pages, "never");
}

TEST(MountInfoTest, OnlyTmpfsThatNeedsNoMadviseGivesHugePages) {
  for (const char* policy : {"always", "within_size"}) {
    EXPECT_TRUE(GivesHugePages({"/mnt/huge", "tmpfs", policy})) << policy;
    EXPECT_FALSE(GivesHugePages({"/mnt/huge", "ext4", policy})) << policy;
  }
  for (const char* policy : {"never", "advise"}) {
    EXPECT_FALSE(GivesHugePages({"/mnt/huge", "tmpfs", policy})) << policy;
  }
  EXPECT_FALSE(GivesHugePages(FindMount(kMounts, "/dev/shm")));
  EXPECT_TRUE(GivesHugePages(FindMount(kMounts, "/mnt/huge2")));
}

TEST(MountInfoTest, ReadsThisMachinesTable) {
  EXPECT_EQ(MountInfoOf("/").mount_point, "/");
}

}  // namespace
}  // namespace matcache
