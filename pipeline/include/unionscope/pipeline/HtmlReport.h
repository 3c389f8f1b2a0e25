#pragma once
// DIR/report.html: the report for a reader, in one self-contained file (the
// pictures inlined as data URIs), built from report.json's values only.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

namespace unionscope {

/// The viewer's snapshot of every visit in 3D (`unionscope view DIR
/// --snapshot`), shown in report.html when it is in DIR/images/.
inline constexpr const char* kViewerSnapshotImage = "viewer_snapshot.png";

/// The page for `report` (the report.json document); pictures named in it
/// are read from `outputDirectory`/images. Deterministic: no clock.
std::string htmlReport(const nlohmann::ordered_json& report,
                       const std::filesystem::path& outputDirectory);

/// RFC 4648 base64 (with padding).
std::string base64(const std::string& bytes);

} // namespace unionscope
