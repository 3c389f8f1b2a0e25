#pragma once
// The scene of an analysed patient (DIR of `unionscope analyze`): per visit
// the bone and callus surfaces (flying edges over the label map) in the
// registered frame, the callus coloured by density, the four cortex arcs in
// their categories' colours, the fracture-zone plane, and a 2D row with the
// reformatted CT slice through the fracture and the radiographs' overlays.
// The same scene is rendered off-screen (--snapshot) and interactively.
// VTK stays inside viewer/: this header exposes none of it.

#include "unionscope/pipeline/AnalysedPatient.h"
#include "unionscope/pipeline/Reads.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace unionscope::viewer {

enum class Layout {
  SideBySide, ///< one 3D viewport per visit, sharing one camera
  Slider,     ///< one 3D viewport, a slider (and Left/Right) picks the visit
};

struct SceneOptions {
  int width = 1500;
  int height = 900;
  Layout layout = Layout::SideBySide;
  /// Slider layout: the visit shown first (index; default the last).
  std::optional<std::size_t> visit;
  /// The 2D row under the 3D views (reformatted slice, radiograph overlays).
  bool panel2d = true;
  /// Interactive viewer: key symbols ("Left", "Down", "3", "S" ...) pressed
  /// one after the other once the window is up, after which it closes: a
  /// scripted session (demos, and the tests of the read form under Xvfb).
  std::vector<std::string> keys;
};

struct VisitSurfaceStatistics {
  std::string label;
  std::optional<double> reportCallusVolumeMm3; ///< report.json's callus_volume_mm3
  double callusEnclosedVolumeMm3 = 0;          ///< vtkMassProperties of the callus surface
  std::size_t callusTriangles = 0;
  std::size_t boneTriangles = 0;
  bool hasVolumes = false; ///< the visit has a label map in DIR/volumes/
};

struct SceneStatistics {
  std::vector<VisitSurfaceStatistics> visits;
  double buildMilliseconds = 0;  ///< loading volumes and extracting surfaces
  double renderMilliseconds = 0; ///< the render and the PNG
};

/// Renders the scene off-screen to `png`. Needs an X display (Xvfb in tests):
/// Debian's VTK renders through GLX only. Throws std::runtime_error naming
/// the file when a volume or the PNG cannot be read or written.
SceneStatistics renderPatientSnapshot(const AnalysedPatient& patient,
                                      const std::filesystem::path& png,
                                      const SceneOptions& options = {});

/// Saves a signed read; returns what to tell the reader (the file written).
using SignRead = std::function<std::string(ReaderRead&)>;

/// Opens the interactive viewer and returns when its window is closed. With
/// `read` the reader can change categories and sign (keys in viewer/README.md,
/// `keyHelp()`); `sign` saves it (the same path as `unionscope read`).
void runInteractiveViewer(const AnalysedPatient& patient, const SceneOptions& options,
                          ReaderRead* read, const SignRead& sign);

/// The viewer's keys, for --help and the help overlay.
std::string keyHelp();

} // namespace unionscope::viewer
