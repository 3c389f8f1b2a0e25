#include "unionscope/pipeline/Dates.h"

#include <fmt/format.h>

#include <cctype>

namespace unionscope {
namespace {

// Howard Hinnant's civil calendar algorithms (public domain).
long daysFromCivil(long y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const long era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long>(doe) - 719468;
}

} // namespace

std::optional<long> daysSinceEpoch(std::string_view date) {
  std::string digits;
  for (char c : date) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      digits.push_back(c);
    } else if (c != '-' && c != '.') {
      return std::nullopt;
    }
  }
  if (digits.size() != 8) {
    return std::nullopt;
  }
  const long y = std::stol(digits.substr(0, 4));
  const auto m = static_cast<unsigned>(std::stoul(digits.substr(4, 2)));
  const auto d = static_cast<unsigned>(std::stoul(digits.substr(6, 2)));
  if (m < 1 || m > 12 || d < 1 || d > 31) {
    return std::nullopt;
  }
  const long days = daysFromCivil(y, m, d);
  // Reject dates such as 2025-02-31 that roll over into the next month.
  if (dicomDate(days) != digits) {
    return std::nullopt;
  }
  return days;
}

std::string dicomDate(long z) {
  z += 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long y = static_cast<long>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return fmt::format("{:04d}{:02d}{:02d}", y + (m <= 2 ? 1 : 0), m, d);
}

std::string isoDate(std::string_view da) {
  if (!daysSinceEpoch(da) || da.size() != 8) {
    return std::string(da);
  }
  return fmt::format("{}-{}-{}", da.substr(0, 4), da.substr(4, 2), da.substr(6, 2));
}

} // namespace unionscope
