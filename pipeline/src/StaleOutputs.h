#pragma once
// A second analysis into the same folder must not leave the first one's files
// beside its own: a transform, SEG or volume of a visit that now fails would
// still look like a result. Only files an earlier run recorded in its own
// audit.json are ever removed, and only inside the output folder.

#include <filesystem>
#include <string>
#include <vector>

namespace unionscope {

/// The output files (SR/SEG, volumes, transforms) an earlier analysis listed
/// in DIR/audit.json, as paths inside `directory`. Empty when there is no
/// earlier audit or it cannot be read (then nothing is removed).
std::vector<std::filesystem::path> previousOutputs(const std::filesystem::path& directory);

/// Removes the files of `previous` that this run did not write (`written`);
/// returns them relative to `directory`, sorted, for the audit.
std::vector<std::string> removeStaleOutputs(const std::filesystem::path& directory,
                                            const std::vector<std::filesystem::path>& previous,
                                            const std::vector<std::filesystem::path>& written);

} // namespace unionscope
