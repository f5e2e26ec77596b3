#include "server/core/format/npy.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/core/format/shape.h"

namespace matcache {
namespace {

constexpr absl::string_view kMagic = "\x93NUMPY";

absl::Status Malformed(absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed .npy header: ", what));
}

// A recursive-descent reader of the Python dict literal numpy writes, e.g.
// {'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }
class DictReader {
 public:
  explicit DictReader(absl::string_view text) : text_(text) {}

  absl::StatusOr<NpyHeader> Read() {
    NpyHeader header;
    bool has_descr = false, has_order = false, has_shape = false;
    if (!Consume('{')) return Malformed("it does not start with '{'");
    while (!Consume('}')) {
      absl::StatusOr<std::string> key = String();
      if (!key.ok()) return key.status();
      if (!Consume(':')) return Malformed(absl::StrCat("no ':' after '", *key, "'"));
      if (*key == "descr") {
        absl::Status status = Descr(&header);
        if (!status.ok()) return status;
        has_descr = true;
      } else if (*key == "fortran_order") {
        absl::StatusOr<bool> order = Bool();
        if (!order.ok()) return order.status();
        header.fortran_order = *order;
        has_order = true;
      } else if (*key == "shape") {
        absl::StatusOr<std::vector<int64_t>> shape = Tuple();
        if (!shape.ok()) return shape.status();
        header.shape = *std::move(shape);
        has_shape = true;
      } else {
        return Malformed(absl::StrCat("unexpected key '", absl::CEscape(*key), "'"));
      }
      if (!Consume(',')) {
        if (!Consume('}')) return Malformed("expected ',' or '}'");
        break;
      }
    }
    SkipSpace();
    if (pos_ != text_.size()) return Malformed("text after the dictionary");
    if (!has_descr || !has_order || !has_shape) {
      return Malformed("it lacks one of 'descr', 'fortran_order', 'shape'");
    }
    return header;
  }

 private:
  void SkipSpace() {
    while (pos_ < text_.size() &&
           absl::ascii_isspace(static_cast<unsigned char>(text_[pos_]))) {
      ++pos_;
    }
  }

  bool Consume(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  absl::StatusOr<std::string> String() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Malformed("expected a quoted string");
    }
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == absl::string_view::npos) return Malformed("unterminated string");
    std::string value(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return value;
  }

  absl::StatusOr<bool> Bool() {
    SkipSpace();
    for (auto [word, value] : {std::pair<absl::string_view, bool>{"True", true},
                               {"False", false}}) {
      if (text_.substr(pos_, word.size()) == word) {
        pos_ += word.size();
        return value;
      }
    }
    return Malformed("fortran_order is neither True nor False");
  }

  absl::StatusOr<std::vector<int64_t>> Tuple() {
    std::vector<int64_t> values;
    if (!Consume('(')) return Malformed("shape is not a tuple");
    while (!Consume(')')) {
      SkipSpace();
      const size_t start = pos_;
      while (pos_ < text_.size() &&
             absl::ascii_isdigit(static_cast<unsigned char>(text_[pos_]))) {
        ++pos_;
      }
      int64_t value;
      if (pos_ == start ||
          !absl::SimpleAtoi(text_.substr(start, pos_ - start), &value)) {
        return Malformed("shape holds something other than non-negative integers");
      }
      Consume('L');  // written by Python 2
      values.push_back(value);
      if (!Consume(',')) {
        if (!Consume(')')) return Malformed("expected ',' or ')' in shape");
        // As in Python: (5) is the number 5, (5,) the tuple.
        if (values.size() == 1) {
          return Malformed("shape is a number in parentheses, not a tuple "
                           "(a one-element shape is written (N,))");
        }
        break;
      }
    }
    return values;
  }

  absl::Status Descr(NpyHeader* header) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '[') {
      return absl::InvalidArgumentError(
          "unsupported .npy dtype: structured dtypes are not stored");
    }
    absl::StatusOr<std::string> descr = String();
    if (!descr.ok()) return descr.status();
    const char order = descr->empty() ? '\0' : (*descr)[0];
    if (order != '<' && order != '>' && order != '|' && order != '=') {
      return UnsupportedDescr(*descr);
    }
    const std::string code = descr->substr(1);
    for (const char* prefix : {"<", "|"}) {
      absl::StatusOr<DTypeInfo> info = DTypeFromName(absl::StrCat(prefix, code));
      if (info.ok()) {
        header->dtype = info->dtype;
        header->big_endian = order == '>' && info->item_size > 1;
        return absl::OkStatus();
      }
    }
    return UnsupportedDescr(*descr);
  }

  static absl::Status UnsupportedDescr(absl::string_view descr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported .npy dtype '", absl::CEscape(descr),
        "'; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128"));
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<int64_t> NpyHeaderSize(absl::string_view preamble) {
  if (preamble.size() < kNpyPreambleBytes || preamble.substr(0, 6) != kMagic) {
    return absl::InvalidArgumentError("not an .npy file (bad magic)");
  }
  const uint8_t major = static_cast<uint8_t>(preamble[6]);
  auto byte = [&](size_t i) {
    return static_cast<int64_t>(static_cast<uint8_t>(preamble[i]));
  };
  if (major == 1) return 10 + (byte(8) | byte(9) << 8);
  if (major == 2 || major == 3) {
    return 12 + (byte(8) | byte(9) << 8 | byte(10) << 16 | byte(11) << 24);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unsupported .npy format version ", major, ".",
                   static_cast<int>(static_cast<uint8_t>(preamble[7]))));
}

absl::StatusOr<NpyHeader> ParseNpyHeader(absl::string_view header) {
  absl::StatusOr<int64_t> size = NpyHeaderSize(header);
  if (!size.ok()) return size.status();
  if (static_cast<int64_t>(header.size()) < *size) {
    return Malformed(absl::StrCat("the file ends inside its ", *size,
                                  "-byte header"));
  }
  const int64_t preamble = header[6] == 1 ? 10 : 12;
  absl::StatusOr<NpyHeader> parsed =
      DictReader(header.substr(preamble, *size - preamble)).Read();
  if (!parsed.ok()) return parsed.status();
  absl::StatusOr<int64_t> bytes =
      ByteSize(parsed->shape, GetDTypeInfo(parsed->dtype).item_size);
  if (!bytes.ok()) return Malformed(bytes.status().message());
  parsed->data_offset = *size;
  parsed->data_bytes = *bytes;
  return parsed;
}

std::string NpyHeaderFor(DType dtype, absl::Span<const int64_t> shape) {
  const std::string shape_text =
      shape.size() == 1 ? absl::StrCat("(", shape[0], ",)")
                        : absl::StrCat("(", absl::StrJoin(shape, ", "), ")");
  std::string dict = absl::StrCat("{'descr': '", GetDTypeInfo(dtype).numpy_str,
                                  "', 'fortran_order': False, 'shape': ",
                                  shape_text, ", }");
  const bool version2 = dict.size() + 1 + 10 > 65535;
  const size_t preamble = version2 ? 12 : 10;
  const size_t padded = (preamble + dict.size() + 1 + 63) / 64 * 64;
  dict.append(padded - preamble - dict.size() - 1, ' ');
  dict.push_back('\n');
  std::string out(kMagic);
  out.push_back(static_cast<char>(version2 ? 2 : 1));
  out.push_back('\0');
  const uint32_t length = static_cast<uint32_t>(dict.size());
  for (size_t i = 0; i < (version2 ? 4u : 2u); ++i) {
    out.push_back(static_cast<char>((length >> (8 * i)) & 0xff));
  }
  return out + dict;
}

}  // namespace matcache
