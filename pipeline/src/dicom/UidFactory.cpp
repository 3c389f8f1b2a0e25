#include "unionscope/pipeline/dicom/UidFactory.h"

#include <algorithm>

namespace unionscope::dicom {
namespace {

// GCC and Clang provide 128-bit integers as an extension; __extension__ keeps
// -Wpedantic quiet about this one deliberate use.
__extension__ using Uint128 = unsigned __int128;

// splitmix64 finaliser: a well-mixed 64-bit hash step.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

std::uint64_t hashLabel(std::uint64_t state, std::string_view label) {
  for (unsigned char c : label) {
    state = mix(state ^ c);
  }
  return mix(state ^ label.size());
}

} // namespace

std::string UidFactory::uid(std::string_view label) const {
  const std::uint64_t high = hashLabel(mix(seed_), label);
  const std::uint64_t low = hashLabel(mix(seed_ ^ 0xA5A5A5A5A5A5A5A5ULL), label);
  Uint128 value = (static_cast<Uint128>(high) << 64U) | low;
  // Clear the top bit so the UUID-style number always stays within 39 digits
  // and is never zero-padded.
  value &= ~(static_cast<Uint128>(1) << 127U);
  value |= 1U;
  std::string digits;
  while (value != 0) {
    digits.push_back(static_cast<char>('0' + static_cast<int>(value % 10)));
    value /= 10;
  }
  std::reverse(digits.begin(), digits.end());
  return "2.25." + digits;
}

} // namespace unionscope::dicom
