#pragma once
// Internal to viewer/: the VTK scene that renderPatientSnapshot() and the
// interactive viewer share.

#include "unionscope/viewer/PatientScene.h"

#include <vtkSmartPointer.h>

#include <array>
#include <vector>

class vtkActor;
class vtkBillboardTextActor3D;
class vtkProp;
class vtkRenderWindow;
class vtkRenderer;
class vtkTextActor;

namespace unionscope::viewer::detail {

struct CortexArc {
  vtkSmartPointer<vtkActor> actor;
  vtkSmartPointer<vtkBillboardTextActor3D> text;
  std::string letter; ///< "A", "P", "M", "L" (with "?" when laterality is unknown)
};

struct VisitScene {
  std::vector<vtkSmartPointer<vtkProp>> props3d; ///< everything of this visit in 3D
  std::array<CortexArc, 4> arcs;                 ///< indexed by Cortex
  vtkSmartPointer<vtkTextActor> caption;
  std::vector<vtkSmartPointer<vtkRenderer>> panels; ///< the 2D row's renderers
  VisitSurfaceStatistics statistics;
};

struct Scene {
  Layout layout = Layout::SideBySide;
  bool panel2d = true;
  std::vector<VisitScene> visits;
  /// One per visit side by side (sharing one camera), or one for the slider.
  std::vector<vtkSmartPointer<vtkRenderer>> renderers3d;
  std::size_t shownVisit = 0; ///< slider layout
  vtkSmartPointer<vtkRenderWindow> window;
  double buildMilliseconds = 0;
};

Scene buildScene(const AnalysedPatient& patient, const SceneOptions& options, bool offScreen);

/// Slider layout: shows visit `index` (its surfaces and its 2D row).
void showVisit(Scene& scene, std::size_t index);

/// Colours an arc by category and labels it ("A 3", "A 2*" when changed).
void setArcCategory(CortexArc& arc, std::optional<int> category, bool changed, bool selected);

} // namespace unionscope::viewer::detail
