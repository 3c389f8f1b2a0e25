#pragma once
// The picture that shows a reader why a radiograph scored what it scored:
// the radiograph with the shaft's outer edges, the fracture line, the callus
// outline, the implants and each cortex's category.

#include "unionscope/filters/ImageTypes.h"
#include "unionscope/filters/RadiographUnionAnalysis.h"

#include <filesystem>

namespace unionscope {

/// Writes `png` (parent folders created). The picture is at most 1024 pixels
/// on its longer side. Throws std::runtime_error naming the file on failure.
void writeRadiographOverlay(const RadiographImage& image, const RadiographAnalysisResult& result,
                            const std::filesystem::path& png);

} // namespace unionscope
