// ScopedTempDir: a fresh directory on a tmpfs (/dev/shm when it exists, else
// $TMPDIR or /tmp), removed with everything in it when the object dies.
#ifndef MATCACHE_TESTS_SUPPORT_TEMP_DIR_H_
#define MATCACHE_TESTS_SUPPORT_TEMP_DIR_H_

#include <string>
#include <vector>

namespace matcache::testing {

class ScopedTempDir {
 public:
  ScopedTempDir();
  ~ScopedTempDir();
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // Names of the entries in the directory, sorted.
  std::vector<std::string> Entries() const;

 private:
  std::string path_;
};

}  // namespace matcache::testing

#endif  // MATCACHE_TESTS_SUPPORT_TEMP_DIR_H_
