#include "unionscope/pipeline/dicom/StructureCheck.h"

#include <dcmtk/dcmdata/dctag.h>
#include <fmt/format.h>

#include <array>
#include <cstring>
#include <fstream>
#include <vector>
#include <zlib.h>

namespace unionscope::dicom {
namespace {

constexpr std::uint32_t kUndefinedLength = 0xFFFFFFFFU;
constexpr std::uint16_t kItemGroup = 0xFFFE;
constexpr std::uint16_t kItem = 0xE000;
constexpr std::uint16_t kItemDelimiter = 0xE00D;
constexpr std::uint16_t kSequenceDelimiter = 0xE0DD;

/// Reads a file through a small window (values are skipped, never read), or
/// after inflate a memory buffer, with bounds checks.
class Reader {
public:
  explicit Reader(const std::filesystem::path& path) : in_(path, std::ios::binary) {
    in_.seekg(0, std::ios::end);
    size_ = static_cast<std::uint64_t>(std::max<std::streamoff>(0, in_.tellg()));
    in_.seekg(0);
  }
  [[nodiscard]] bool good() const { return inMemory_ || static_cast<bool>(in_); }
  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] std::uint64_t position() const { return position_; }
  bool read(void* out, std::size_t n) {
    if (position_ + n > size_) {
      return false;
    }
    if (!inMemory_ && (position_ < windowStart_ || position_ + n > windowStart_ + window_.size())) {
      if (!fill(n)) {
        return false;
      }
    }
    const std::uint8_t* source =
        inMemory_ ? memory_.data() + position_ : window_.data() + (position_ - windowStart_);
    std::memcpy(out, source, n);
    position_ += n;
    return true;
  }
  bool skip(std::uint64_t n) { return position_ + n <= size_ && seek(position_ + n); }
  bool seek(std::uint64_t to) {
    position_ = to;
    return good();
  }
  /// Replaces the rest of the file by its inflated content (deflated
  /// transfer syntax). Refuses output beyond `maxBytes`.
  bool inflateRest(std::uint64_t maxBytes, std::string& error) {
    std::vector<std::uint8_t> compressed(size_ - position_);
    if (!read(compressed.data(), compressed.size())) {
      error = "cannot read the deflated dataset";
      return false;
    }
    z_stream zs{};
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
      error = "zlib initialisation failed";
      return false;
    }
    zs.next_in = compressed.data();
    zs.avail_in = static_cast<uInt>(compressed.size());
    std::vector<std::uint8_t> out;
    std::array<std::uint8_t, 1 << 16> chunk{};
    int status = Z_OK;
    while (status == Z_OK) {
      zs.next_out = chunk.data();
      zs.avail_out = chunk.size();
      status = inflate(&zs, Z_NO_FLUSH);
      out.insert(out.end(), chunk.data(), chunk.data() + (chunk.size() - zs.avail_out));
      if (out.size() > maxBytes) {
        inflateEnd(&zs);
        error = "deflated dataset inflates beyond the size limit";
        return false;
      }
    }
    inflateEnd(&zs);
    if (status != Z_STREAM_END && status != Z_BUF_ERROR) {
      error = "corrupt deflated dataset";
      return false;
    }
    memory_ = std::move(out);
    inMemory_ = true;
    size_ = memory_.size();
    position_ = 0;
    return true;
  }

private:
  bool fill(std::size_t atLeast) {
    constexpr std::size_t kWindow = 64 * 1024;
    const std::uint64_t length =
        std::min<std::uint64_t>(std::max(kWindow, atLeast), size_ - position_);
    window_.resize(length);
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(position_));
    if (!in_.read(reinterpret_cast<char*>(window_.data()), static_cast<std::streamsize>(length))) {
      return false;
    }
    windowStart_ = position_;
    return true;
  }

  std::ifstream in_;
  std::vector<std::uint8_t> window_;
  std::uint64_t windowStart_ = 0;
  std::vector<std::uint8_t> memory_;
  bool inMemory_ = false;
  std::uint64_t size_ = 0;
  std::uint64_t position_ = 0;
};

struct Encoding {
  bool explicitVr = true;
  bool bigEndian = false;
  bool deflated = false;
};

std::uint16_t u16(const unsigned char* b, bool bigEndian) {
  return bigEndian ? static_cast<std::uint16_t>(b[0] << 8U | b[1])
                   : static_cast<std::uint16_t>(b[1] << 8U | b[0]);
}
std::uint32_t u32(const unsigned char* b, bool bigEndian) {
  return bigEndian ? (std::uint32_t(b[0]) << 24U | std::uint32_t(b[1]) << 16U |
                      std::uint32_t(b[2]) << 8U | b[3])
                   : (std::uint32_t(b[3]) << 24U | std::uint32_t(b[2]) << 16U |
                      std::uint32_t(b[1]) << 8U | b[0]);
}

bool hasLongLength(const char vr[2]) {
  static constexpr std::array<const char*, 13> kLong{"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                                     "SV", "UC", "UN", "UR", "UT", "UV"};
  for (const char* candidate : kLong) {
    if (vr[0] == candidate[0] && vr[1] == candidate[1]) {
      return true;
    }
  }
  return false;
}

bool isVrLetters(const unsigned char* b) {
  return b[0] >= 'A' && b[0] <= 'Z' && b[1] >= 'A' && b[1] <= 'Z';
}

enum class ContainerKind { Sequence, Item, Fragments };
struct Container {
  ContainerKind kind;
  std::uint64_t end; ///< 0 when the length is undefined
  Encoding encoding; ///< of the elements inside
};

/// Reads the file meta group (always explicit VR little endian) and returns
/// the dataset's encoding, positioned at the first dataset element.
Encoding readMeta(Reader& reader, StructureCheck& check) {
  Encoding encoding;
  std::array<unsigned char, 132> preamble{};
  if (!reader.read(preamble.data(), preamble.size()) ||
      std::string_view(reinterpret_cast<const char*>(preamble.data()) + 128, 4) != "DICM") {
    // No preamble: guess the encoding from the first element as DCMTK does.
    reader.seek(0);
    std::array<unsigned char, 6> head{};
    if (reader.read(head.data(), head.size())) {
      encoding.explicitVr = isVrLetters(head.data() + 4);
    }
    reader.seek(0);
    return encoding;
  }
  check.preamble = true;
  std::string transferSyntax;
  while (true) {
    const std::uint64_t start = reader.position();
    std::array<unsigned char, 8> header{};
    if (!reader.read(header.data(), header.size()) || u16(header.data(), false) != 0x0002) {
      reader.seek(start);
      break;
    }
    const char vr[2] = {static_cast<char>(header[4]), static_cast<char>(header[5])};
    std::uint32_t length = u16(header.data() + 6, false);
    if (hasLongLength(vr)) {
      std::array<unsigned char, 4> longLength{};
      if (!reader.read(longLength.data(), 4)) {
        break;
      }
      length = u32(longLength.data(), false);
    }
    const std::uint16_t element = u16(header.data() + 2, false);
    if ((element == 0x0010 || element == 0x0002) && length < 256) {
      std::string value(length, '\0');
      if (!reader.read(value.data(), length)) {
        break;
      }
      (element == 0x0010 ? transferSyntax : check.mediaStorageSopClassUid) =
          value.c_str(); // drops padding NUL
    } else if (length == kUndefinedLength || !reader.skip(length)) {
      break;
    }
  }
  for (std::string* uid : {&transferSyntax, &check.mediaStorageSopClassUid}) {
    while (!uid->empty() && uid->back() == ' ') {
      uid->pop_back();
    }
  }
  encoding.explicitVr = transferSyntax != "1.2.840.10008.1.2";
  encoding.bigEndian = transferSyntax == "1.2.840.10008.1.2.2";
  encoding.deflated = transferSyntax == "1.2.840.10008.1.2.1.99";
  return encoding;
}

} // namespace

StructureCheck checkDicomStructure(const std::filesystem::path& path,
                                   const StructureLimits& limits) {
  Reader reader(path);
  if (!reader.good()) {
    StructureCheck unreadable;
    unreadable.ok = false;
    unreadable.reason = "cannot open file";
    return unreadable;
  }
  StructureCheck check;
  const Encoding datasetEncoding = readMeta(reader, check);
  if (datasetEncoding.deflated) {
    std::string error;
    if (!reader.inflateRest(limits.maxInflatedBytes, error)) {
      check.ok = false;
      check.reason = error;
      return check;
    }
  }
  std::vector<Container> stack;
  int sequenceDepth = 0;
  const auto fail = [&](std::string reason) {
    check.ok = false;
    check.reason = std::move(reason);
    return check;
  };

  for (std::uint64_t elements = 0; elements < limits.maxElements; ++elements) {
    // Close the defined-length containers that end here.
    while (!stack.empty() && stack.back().end != 0 && reader.position() >= stack.back().end) {
      sequenceDepth -= stack.back().kind == ContainerKind::Sequence ? 1 : 0;
      stack.pop_back();
    }
    const Encoding encoding = stack.empty() ? datasetEncoding : stack.back().encoding;
    std::array<unsigned char, 8> header{};
    if (!reader.read(header.data(), 4)) {
      return check; // end of file (a truncated tail is DCMTK's to report)
    }
    const std::uint16_t group = u16(header.data(), encoding.bigEndian);
    const std::uint16_t element = u16(header.data() + 2, encoding.bigEndian);
    if (group == kItemGroup) {
      // Items and delimiters always have a 4-byte length and no VR.
      if (!reader.read(header.data() + 4, 4)) {
        return check;
      }
      const std::uint32_t length = u32(header.data() + 4, encoding.bigEndian);
      if (element == kItem) {
        const bool fragments = !stack.empty() && stack.back().kind == ContainerKind::Fragments;
        if (fragments || length == 0) {
          if (length == kUndefinedLength || !reader.skip(length)) {
            return fail("a pixel data fragment runs past the end of the file");
          }
          continue;
        }
        if (length != kUndefinedLength && reader.position() + length > reader.size()) {
          return fail(fmt::format("an item of {} bytes runs past the end of the file", length));
        }
        stack.push_back({ContainerKind::Item,
                         length == kUndefinedLength ? 0 : reader.position() + length, encoding});
      } else if (element == kItemDelimiter || element == kSequenceDelimiter) {
        const ContainerKind closes =
            element == kItemDelimiter ? ContainerKind::Item : ContainerKind::Sequence;
        while (!stack.empty()) {
          const ContainerKind kind = stack.back().kind;
          sequenceDepth -= kind == ContainerKind::Sequence ? 1 : 0;
          stack.pop_back();
          if (kind == closes ||
              (closes == ContainerKind::Sequence && kind == ContainerKind::Fragments)) {
            break;
          }
        }
      }
      continue;
    }

    std::uint32_t length = 0;
    bool sequence = false;
    bool unknownVr = false;
    if (encoding.explicitVr) {
      if (!reader.read(header.data() + 4, 4)) {
        return check;
      }
      const char vr[2] = {static_cast<char>(header[4]), static_cast<char>(header[5])};
      if (hasLongLength(vr)) {
        std::array<unsigned char, 4> longLength{};
        if (!reader.read(longLength.data(), 4)) {
          return check;
        }
        length = u32(longLength.data(), encoding.bigEndian);
      } else {
        length = u16(header.data() + 6, encoding.bigEndian);
      }
      unknownVr = vr[0] == 'U' && vr[1] == 'N';
      sequence = (vr[0] == 'S' && vr[1] == 'Q') || (unknownVr && length == kUndefinedLength);
    } else {
      if (!reader.read(header.data() + 4, 4)) {
        return check;
      }
      length = u32(header.data() + 4, encoding.bigEndian);
      sequence = length == kUndefinedLength || DcmTag(group, element).getEVR() == EVR_SQ;
    }
    const bool pixelData = group == 0x7FE0 && element == 0x0010;
    if (length == kUndefinedLength) {
      if (pixelData) {
        stack.push_back({ContainerKind::Fragments, 0, encoding});
        continue;
      }
      sequence = true;
    }
    if (sequence) {
      if (++sequenceDepth > limits.maxSequenceDepth) {
        return fail(fmt::format("sequences nested deeper than {} levels", limits.maxSequenceDepth));
      }
      if (length != kUndefinedLength && reader.position() + length > reader.size()) {
        return fail(
            fmt::format("sequence ({:04X},{:04X}) of {} bytes runs past the end of the file", group,
                        element, length));
      }
      // CP-246: the content of a UN element of undefined length is implicit
      // VR little endian whatever the file's transfer syntax.
      const Encoding inside = unknownVr ? Encoding{false, false} : encoding;
      stack.push_back({ContainerKind::Sequence,
                       length == kUndefinedLength ? 0 : reader.position() + length, inside});
      continue;
    }
    if (!reader.skip(length)) {
      return fail(
          fmt::format("element ({:04X},{:04X}) declares {} bytes but the file ends after {}", group,
                      element, length, reader.size() - reader.position()));
    }
  }
  return fail("too many elements to be a radiology image");
}

} // namespace unionscope::dicom
