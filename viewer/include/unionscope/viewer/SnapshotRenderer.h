#pragma once
// Off-screen rendering of segmentation surfaces to PNG. Surfaces come from
// flying edges over binary masks in patient coordinates; the camera looks from
// the patient's anterior side with the head up, as a reader expects. VTK stays
// inside viewer/: this header exposes none of it.

#include "unionscope/filters/ImageTypes.h"

#include <array>
#include <filesystem>
#include <vector>

namespace unionscope::viewer {

struct SurfaceLayer {
  MaskImage::ConstPointer mask; ///< voxels > 0 are inside
  std::array<double, 3> color{0.9, 0.85, 0.75};
  double opacity = 1.0;
};

struct SnapshotOptions {
  int width = 800;
  int height = 600;
  std::array<double, 3> background{0.08, 0.08, 0.1};
};

struct SnapshotStatistics {
  std::size_t surfaceTriangles = 0;
  double enclosedVolumeMm3 = 0; ///< summed over layers
};

/// Renders the layers' surfaces and writes `png`. Needs an X display (Xvfb in
/// tests): Debian's VTK renders through GLX only.
SnapshotStatistics renderSurfacesToPng(const std::vector<SurfaceLayer>& layers,
                                       const std::filesystem::path& png,
                                       const SnapshotOptions& options = {});

} // namespace unionscope::viewer
