#pragma once
// Writing the files that analyze, cohort and batch produce.

#include <filesystem>
#include <string>
#include <string_view>

namespace unionscope {

/// Writes through a temporary file and a rename, so that a reader (or a
/// resumed batch) never sees half a file. Throws std::runtime_error naming the
/// file when it cannot be written.
void writeFileAtomically(const std::filesystem::path& path, const std::string& text);

/// A CSV field: quoted (with doubled quotes) when it holds a comma, a quote
/// or a line break.
std::string csvQuote(std::string_view text);

} // namespace unionscope
