#pragma once
// The audit trail of an analysis: what software, with which parameters, on
// which exact input bytes, when. Timestamps live here and only here, so
// report.json stays byte-identical between runs.

#include <filesystem>
#include <string>

namespace unionscope {

/// SHA-256 of a file's bytes, lower-case hex. Throws std::runtime_error when
/// the file cannot be read.
std::string sha256OfFile(const std::filesystem::path& file);

/// UTC time as ISO 8601 (2026-11-23T06:05:34Z).
std::string utcTimestampNow();

} // namespace unionscope
