#include "StaleOutputs.h"

#include "JsonFile.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>

namespace unionscope {
namespace fs = std::filesystem;

namespace {

/// `path` relative to `directory` when it lies inside it (lexically: the
/// files were written as directory / relative), else empty.
fs::path insideRelative(const fs::path& path, const fs::path& directory) {
  const fs::path relative =
      path.lexically_normal().lexically_relative(directory.lexically_normal());
  if (relative.empty() || relative.is_absolute() || *relative.begin() == "..") {
    return {};
  }
  return relative;
}

} // namespace

std::vector<fs::path> previousOutputs(const fs::path& directory) {
  const fs::path file = directory / "audit.json";
  std::error_code error;
  if (!fs::is_regular_file(file, error)) {
    return {};
  }
  nlohmann::json audit;
  try {
    audit = readJsonFile(file);
  } catch (const std::exception& failure) {
    spdlog::warn("{}; earlier outputs in this folder are left as they are", failure.what());
    return {};
  }
  // The earlier run wrote its files as its own --out / relative path; that
  // --out may have been spelled differently (relative to another folder).
  const nlohmann::json request = audit.value("request", nlohmann::json::object());
  const fs::path earlierOut = request.value("out", std::string());
  std::vector<fs::path> files;
  for (const char* list : {"dicom_outputs", "volume_outputs", "registration_outputs"}) {
    const nlohmann::json entries = audit.value(list, nlohmann::json::array());
    if (!entries.is_array()) {
      continue;
    }
    for (const nlohmann::json& entry : entries) {
      if (!entry.is_object() || !entry.contains("path") || !entry["path"].is_string()) {
        continue;
      }
      const fs::path relative = insideRelative(entry["path"].get<std::string>(), earlierOut);
      if (!relative.empty()) {
        files.push_back(directory / relative);
      }
    }
  }
  return files;
}

std::vector<std::string> removeStaleOutputs(const fs::path& directory,
                                            const std::vector<fs::path>& previous,
                                            const std::vector<fs::path>& written) {
  std::set<fs::path> kept;
  for (const fs::path& file : written) {
    kept.insert(insideRelative(file, directory));
  }
  std::set<std::string> removed;
  for (const fs::path& file : previous) {
    const fs::path relative = insideRelative(file, directory);
    if (relative.empty() || kept.count(relative) != 0) {
      continue;
    }
    std::error_code error;
    if (fs::remove(directory / relative, error)) {
      removed.insert(relative.generic_string());
    } else if (error) {
      spdlog::warn("{}: an earlier run's output could not be removed ({})",
                   (directory / relative).string(), error.message());
    }
  }
  return {removed.begin(), removed.end()};
}

} // namespace unionscope
