// FdCloser: owns a file descriptor and closes it when it goes out of scope,
// unless released first. Move-free and copy-free: one scope, one owner.
#ifndef MATCACHE_SERVER_CORE_BASE_FD_CLOSER_H_
#define MATCACHE_SERVER_CORE_BASE_FD_CLOSER_H_

#include <unistd.h>

#include <utility>

namespace matcache {

class FdCloser {
 public:
  // Takes `fd` over; -1 holds nothing.
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

  int get() const { return fd_; }
  // Gives the descriptor back to the caller, who now closes it.
  int Release() { return std::exchange(fd_, -1); }
  // Takes `fd` over, closing the one held.
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_BASE_FD_CLOSER_H_
