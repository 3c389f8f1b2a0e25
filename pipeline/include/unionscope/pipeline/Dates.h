#pragma once
// Calendar dates as DICOM writes them (DA, YYYYMMDD), counted in days.

#include <optional>
#include <string>
#include <string_view>

namespace unionscope {

/// Days since 1970-01-01 of a DICOM DA (YYYYMMDD) or ISO (YYYY-MM-DD) date;
/// empty when the text is not a valid date.
std::optional<long> daysSinceEpoch(std::string_view date);
/// YYYYMMDD of a day count.
std::string dicomDate(long days);
/// YYYY-MM-DD of a DICOM DA; the input unchanged when it is not one.
std::string isoDate(std::string_view dicomDate);

} // namespace unionscope
