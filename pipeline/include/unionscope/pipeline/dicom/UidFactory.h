#pragma once
// Deterministic DICOM UIDs: the same seed and label always give the same UID,
// so that a generator run twice writes the same files byte for byte.

#include <cstdint>
#include <string>
#include <string_view>

namespace unionscope::dicom {

class UidFactory {
public:
  explicit UidFactory(std::uint64_t seed) : seed_(seed) {}

  /// A seed from text (64-bit FNV-1a), for UIDs that follow from what an
  /// output says rather than from a number.
  [[nodiscard]] static std::uint64_t seedOf(std::string_view text) {
    std::uint64_t hash = 0xcbf29ce484222325ULL;
    for (unsigned char c : text) {
      hash = (hash ^ c) * 0x100000001b3ULL;
    }
    return hash;
  }

  /// A UID under the 2.25 root (ISO/IEC 9834-8: a 128-bit number in decimal),
  /// derived from the seed and a label naming the object ("study/W12", ...).
  [[nodiscard]] std::string uid(std::string_view label) const;

private:
  std::uint64_t seed_;
};

} // namespace unionscope::dicom
