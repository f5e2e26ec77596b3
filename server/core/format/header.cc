#include "server/core/format/header.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/core/base/status_macros.h"
#include "server/core/format/checksum.h"
#include "server/core/format/name.h"
#include "server/core/format/shape.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "the segment format is little-endian; add byte swapping to "
              "build on this host");

namespace matcache {
namespace {

constexpr char kMagic[8] = {'M', 'A', 'T', 'C', 'A', 'C', 'H', 'E'};

// Field offsets; see the layout in header.h.
constexpr size_t kMagicOffset = 0;
constexpr size_t kVersionOffset = 8;
constexpr size_t kStateOffset = 12;
constexpr size_t kIdOffset = 16;
constexpr size_t kGenerationOffset = 32;
constexpr size_t kDTypeOffset = 40;
constexpr size_t kNdimOffset = 44;
constexpr size_t kDataOffsetOffset = 48;
constexpr size_t kDataLengthOffset = 56;
constexpr size_t kCreatedOffset = 64;
constexpr size_t kDataChecksumOffset = 72;
constexpr size_t kHeaderChecksumOffset = 80;
constexpr size_t kNameLengthOffset = 88;
constexpr size_t kSourceLengthOffset = 92;
constexpr size_t kShapeOffset = 96;
constexpr size_t kStridesOffset = kShapeOffset + 8 * kMaxRank;
constexpr size_t kNameOffset = kStridesOffset + 8 * kMaxRank;
constexpr size_t kNameCapacity = 256;
constexpr size_t kSourceOffset = kNameOffset + kNameCapacity;
static_assert(kNameCapacity >= kMaxNameLength);
constexpr size_t kOriginalDTypeOffset = kSourceOffset + kMaxSourceLength;
static_assert(kOriginalDTypeOffset + 4 <= kHeaderSize);

template <typename T>
void Store(char* page, size_t offset, T value) {
  std::memcpy(page + offset, &value, sizeof(T));
}

template <typename T>
T Load(const char* page, size_t offset) {
  T value;
  std::memcpy(&value, page + offset, sizeof(T));
  return value;
}

uint64_t HeaderChecksum(const char* page) {
  char copy[kHeaderSize];
  std::memcpy(copy, page, kHeaderSize);
  Store<uint64_t>(copy, kHeaderChecksumOffset, 0);
  return Checksum(copy, kHeaderSize);
}

absl::Status Corrupt(absl::string_view what) {
  return absl::DataLossError(absl::StrCat("corrupt segment header: ", what));
}

}  // namespace

SegmentId SegmentId::Random() {
  SegmentId id;
  size_t filled = 0;
  while (filled < id.bytes.size()) {
    ssize_t n = getrandom(id.bytes.data() + filled, id.bytes.size() - filled, 0);
    if (n > 0) {
      filled += static_cast<size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      std::abort();  // The kernel's random source cannot fail after boot.
    }
  }
  return id;
}

std::string SegmentId::ToHex() const {
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

absl::StatusOr<SegmentHeader> MakeStagingHeader(absl::string_view name,
                                                absl::Span<const int64_t> shape,
                                                DType dtype,
                                                absl::string_view source) {
  RETURN_IF_ERROR(ValidateName(name));
  if (source.size() > kMaxSourceLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "source has ", source.size(), " characters; at most ",
        kMaxSourceLength, " are allowed"));
  }
  const int64_t item_size = GetDTypeInfo(dtype).item_size;
  ASSIGN_OR_RETURN(int64_t data_length, ByteSize(shape, item_size));
  SegmentHeader header;
  header.state = SegmentState::kStaging;
  header.id = SegmentId::Random();
  header.dtype = dtype;
  header.shape.assign(shape.begin(), shape.end());
  header.strides = CStrides(shape, item_size);
  header.data_offset = kHeaderSize;
  header.data_length = static_cast<uint64_t>(data_length);
  header.created_unix_nanos = absl::ToUnixNanos(absl::Now());
  header.name = std::string(name);
  header.source = std::string(source);
  header.original_dtype = dtype;
  return header;
}

void EncodeHeader(const SegmentHeader& header, absl::Span<char> page) {
  char* p = page.data();
  std::memset(p, 0, kHeaderSize);
  std::memcpy(p + kMagicOffset, kMagic, sizeof(kMagic));
  Store<uint32_t>(p, kVersionOffset, kFormatVersion);
  Store<uint32_t>(p, kStateOffset, static_cast<uint32_t>(header.state));
  std::memcpy(p + kIdOffset, header.id.bytes.data(), header.id.bytes.size());
  Store<uint64_t>(p, kGenerationOffset, header.generation);
  Store<uint32_t>(p, kDTypeOffset, static_cast<uint32_t>(header.dtype));
  Store<uint32_t>(p, kNdimOffset, static_cast<uint32_t>(header.shape.size()));
  Store<uint64_t>(p, kDataOffsetOffset, header.data_offset);
  Store<uint64_t>(p, kDataLengthOffset, header.data_length);
  Store<int64_t>(p, kCreatedOffset, header.created_unix_nanos);
  Store<uint64_t>(p, kDataChecksumOffset, header.data_checksum);
  Store<uint32_t>(p, kNameLengthOffset, static_cast<uint32_t>(header.name.size()));
  Store<uint32_t>(p, kSourceLengthOffset,
                  static_cast<uint32_t>(header.source.size()));
  for (size_t i = 0; i < header.shape.size(); ++i) {
    Store<int64_t>(p, kShapeOffset + 8 * i, header.shape[i]);
    Store<int64_t>(p, kStridesOffset + 8 * i, header.strides[i]);
  }
  std::memcpy(p + kNameOffset, header.name.data(), header.name.size());
  std::memcpy(p + kSourceOffset, header.source.data(), header.source.size());
  Store<uint32_t>(p, kOriginalDTypeOffset,
                  header.original_dtype == header.dtype
                      ? 0
                      : static_cast<uint32_t>(header.original_dtype));
  Store<uint64_t>(p, kHeaderChecksumOffset, HeaderChecksum(p));
}

absl::StatusOr<SegmentHeader> DecodeHeader(absl::Span<const char> page) {
  if (page.size() < kHeaderSize) {
    return Corrupt(absl::StrCat("only ", page.size(), " of ", kHeaderSize,
                                " header bytes present"));
  }
  const char* p = page.data();
  if (std::memcmp(p + kMagicOffset, kMagic, sizeof(kMagic)) != 0) {
    return Corrupt("bad magic (not a matcache segment)");
  }
  const uint32_t version = Load<uint32_t>(p, kVersionOffset);
  if (version != kFormatVersion) {
    return Corrupt(absl::StrCat("unsupported format version ", version,
                                " (this build reads ", kFormatVersion, ")"));
  }
  if (Load<uint64_t>(p, kHeaderChecksumOffset) != HeaderChecksum(p)) {
    return Corrupt("header checksum mismatch");
  }

  SegmentHeader header;
  const uint32_t state = Load<uint32_t>(p, kStateOffset);
  if (state != static_cast<uint32_t>(SegmentState::kStaging) &&
      state != static_cast<uint32_t>(SegmentState::kSealed)) {
    return Corrupt(absl::StrCat("unknown state ", state));
  }
  header.state = static_cast<SegmentState>(state);
  std::memcpy(header.id.bytes.data(), p + kIdOffset, header.id.bytes.size());
  header.generation = Load<uint64_t>(p, kGenerationOffset);

  absl::StatusOr<DTypeInfo> dtype = DTypeFromCode(Load<uint32_t>(p, kDTypeOffset));
  if (!dtype.ok()) return Corrupt(dtype.status().message());
  header.dtype = dtype->dtype;

  const uint32_t ndim = Load<uint32_t>(p, kNdimOffset);
  if (ndim > static_cast<uint32_t>(kMaxRank)) {
    return Corrupt(absl::StrCat("ndim ", ndim, " exceeds ", kMaxRank));
  }
  for (uint32_t i = 0; i < ndim; ++i) {
    header.shape.push_back(Load<int64_t>(p, kShapeOffset + 8 * i));
    header.strides.push_back(Load<int64_t>(p, kStridesOffset + 8 * i));
  }
  absl::StatusOr<int64_t> byte_size = ByteSize(header.shape, dtype->item_size);
  if (!byte_size.ok()) return Corrupt(byte_size.status().message());
  if (header.strides != CStrides(header.shape, dtype->item_size)) {
    return Corrupt("strides are not C-contiguous for the shape");
  }

  header.data_offset = Load<uint64_t>(p, kDataOffsetOffset);
  if (header.data_offset != kHeaderSize) {
    return Corrupt(absl::StrCat("data offset ", header.data_offset,
                                " is not ", kHeaderSize));
  }
  header.data_length = Load<uint64_t>(p, kDataLengthOffset);
  if (header.data_length != static_cast<uint64_t>(*byte_size)) {
    return Corrupt(absl::StrCat("data length ", header.data_length,
                                " does not match shape and dtype (",
                                *byte_size, " bytes)"));
  }
  header.created_unix_nanos = Load<int64_t>(p, kCreatedOffset);
  header.data_checksum = Load<uint64_t>(p, kDataChecksumOffset);

  const uint32_t name_length = Load<uint32_t>(p, kNameLengthOffset);
  if (name_length > kMaxNameLength) {
    return Corrupt(absl::StrCat("name length ", name_length));
  }
  header.name.assign(p + kNameOffset, name_length);
  absl::Status name_status = ValidateName(header.name);
  if (!name_status.ok()) return Corrupt(name_status.message());

  const uint32_t source_length = Load<uint32_t>(p, kSourceLengthOffset);
  if (source_length > kMaxSourceLength) {
    return Corrupt(absl::StrCat("source length ", source_length));
  }
  header.source.assign(p + kSourceOffset, source_length);

  const uint32_t original = Load<uint32_t>(p, kOriginalDTypeOffset);
  header.original_dtype = header.dtype;
  if (original != 0) {
    absl::StatusOr<DTypeInfo> info = DTypeFromCode(original);
    if (!info.ok()) return Corrupt(absl::StrCat("original ", info.status().message()));
    header.original_dtype = info->dtype;
  }
  return header;
}

}  // namespace matcache
