// NpyDataWriter: the data part of an .npy file, arriving in pieces of any
// size (an upload, or a Load read a piece at a time), written into
// matcache's layout at a target buffer: C order, little-endian, and
// converted to the target dtype as numpy's astype does. Memory beyond the
// target is bounded by a small block, whatever the matrix's size, byte
// order or memory order.
//
// Not thread-safe.
#ifndef MATCACHE_SERVER_CORE_ARRAY_NPY_DATA_WRITER_H_
#define MATCACHE_SERVER_CORE_ARRAY_NPY_DATA_WRITER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "matcache/dtype.h"
#include "server/core/format/npy.h"

namespace matcache {

class NpyDataWriter {
 public:
  // `target` holds product(header.shape) elements of `target_dtype`.
  NpyDataWriter(const NpyHeader& header, DType target_dtype, char* target);

  // Bytes of .npy data expected (header.data_bytes) and taken so far.
  int64_t expected_bytes() const { return header_.data_bytes; }
  int64_t received_bytes() const { return received_; }

  // Takes the next `size` bytes of data; at most expected_bytes() -
  // received_bytes() of them.
  void Write(const char* data, size_t size);

 private:
  // Writes `count` whole source elements.
  void WriteElements(const char* data, int64_t count);
  // The target offset of the next element of a Fortran-ordered source,
  // then steps to the one after.
  int64_t NextFortranOffset();

  const NpyHeader header_;
  const DType target_dtype_;
  char* const target_;
  const int64_t source_item_;
  const int64_t target_item_;
  const bool fortran_;  // Fortran order with more than one dimension
  int64_t received_ = 0;
  int64_t elements_done_ = 0;
  std::string carry_;             // a source element split across pieces
  std::vector<char> swapped_;     // one block, little-endian
  std::vector<char> converted_;   // one block, in the target dtype
  std::vector<int64_t> position_;  // Fortran order: the next element's index
  std::vector<int64_t> strides_;   // C strides of the target, in bytes
  int64_t offset_ = 0;             // target offset of position_
};

}  // namespace matcache

#endif  // MATCACHE_SERVER_CORE_ARRAY_NPY_DATA_WRITER_H_
