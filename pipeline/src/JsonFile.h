#pragma once
// Reading the JSON files this repository writes back in (report.json,
// reads/*.json), with errors a user can act on.

#include "unionscope/pipeline/Errors.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace unionscope {

/// The file's JSON (nlohmann::json, or ordered_json to keep the file's key
/// order). Throws UsageError naming the file when it cannot be read or is not
/// valid JSON.
template <typename JsonType = nlohmann::json>
JsonType readJsonFile(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    throw UsageError(fmt::format("{}: cannot be read", file.string()));
  }
  std::stringstream text;
  text << in.rdbuf();
  try {
    return JsonType::parse(text.str());
  } catch (const typename JsonType::exception& error) {
    throw UsageError(fmt::format("{}: not valid JSON ({})", file.string(), error.what()));
  }
}

} // namespace unionscope
