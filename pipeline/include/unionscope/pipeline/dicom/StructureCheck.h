#pragma once
// A bounded, non-recursive walk over a DICOM file's element structure, run
// before DCMTK parses it. DCMTK's parser recurses once per nested sequence,
// so a hostile file with thousands of nested sequences overflows the stack;
// values that claim to run past the end of the file mark a truncated file.

#include <cstdint>
#include <filesystem>
#include <string>

namespace unionscope::dicom {

struct StructureLimits {
  int maxSequenceDepth = 64;                                ///< real objects nest a handful deep
  std::uint64_t maxElements = 20'000'000;                   ///< bounds the walk's time
  std::uint64_t maxInflatedBytes = std::uint64_t{1} << 30U; ///< deflate bombs stop here
};

struct StructureCheck {
  bool ok = true;
  std::string reason;                  ///< why the file must not be parsed, when !ok
  bool preamble = false;               ///< "DICM" at byte 128 (a Part 10 file)
  std::string mediaStorageSopClassUid; ///< from the file meta group, when present
};

StructureCheck checkDicomStructure(const std::filesystem::path& path,
                                   const StructureLimits& limits = {});

} // namespace unionscope::dicom
