#include "unionscope/viewer/SnapshotRenderer.h"

#include <vtkActor.h>
#include <vtkCamera.h>
#include <vtkFlyingEdges3D.h>
#include <vtkImageData.h>
#include <vtkMassProperties.h>
#include <vtkMatrix3x3.h>
#include <vtkNew.h>
#include <vtkPNGWriter.h>
#include <vtkPointData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProperty.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkTriangleFilter.h>
#include <vtkUnsignedCharArray.h>
#include <vtkWindowToImageFilter.h>

#include <stdexcept>

namespace unionscope::viewer {
namespace {

/// Copies a mask into vtkImageData with its origin, spacing and direction so
/// the surface lands in patient coordinates.
vtkSmartPointer<vtkImageData> toVtk(const MaskImage& mask) {
  const auto size = mask.GetLargestPossibleRegion().GetSize();
  auto image = vtkSmartPointer<vtkImageData>::New();
  image->SetDimensions(static_cast<int>(size[0]), static_cast<int>(size[1]),
                       static_cast<int>(size[2]));
  image->SetSpacing(mask.GetSpacing()[0], mask.GetSpacing()[1], mask.GetSpacing()[2]);
  image->SetOrigin(mask.GetOrigin()[0], mask.GetOrigin()[1], mask.GetOrigin()[2]);
  vtkNew<vtkMatrix3x3> direction;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      direction->SetElement(r, c, mask.GetDirection()(r, c));
    }
  }
  image->SetDirectionMatrix(direction);
  image->AllocateScalars(VTK_UNSIGNED_CHAR, 1);
  const std::size_t count = size[0] * size[1] * size[2];
  auto* out = static_cast<unsigned char*>(image->GetScalarPointer());
  const unsigned char* in = mask.GetBufferPointer();
  for (std::size_t i = 0; i < count; ++i) {
    out[i] = in[i] > 0 ? 255 : 0;
  }
  return image;
}

} // namespace

SnapshotStatistics renderSurfacesToPng(const std::vector<SurfaceLayer>& layers,
                                       const std::filesystem::path& png,
                                       const SnapshotOptions& options) {
  SnapshotStatistics stats;
  vtkNew<vtkRenderer> renderer;
  renderer->SetBackground(options.background[0], options.background[1], options.background[2]);
  for (const SurfaceLayer& layer : layers) {
    if (!layer.mask) {
      continue;
    }
    vtkNew<vtkFlyingEdges3D> surface;
    surface->SetInputData(toVtk(*layer.mask));
    surface->SetValue(0, 127.5);
    surface->ComputeNormalsOn();
    vtkNew<vtkTriangleFilter> triangles;
    triangles->SetInputConnection(surface->GetOutputPort());
    triangles->Update();
    stats.surfaceTriangles += static_cast<std::size_t>(triangles->GetOutput()->GetNumberOfCells());
    if (triangles->GetOutput()->GetNumberOfCells() > 0) {
      vtkNew<vtkMassProperties> mass;
      mass->SetInputConnection(triangles->GetOutputPort());
      mass->Update();
      stats.enclosedVolumeMm3 += mass->GetVolume();
    }
    vtkNew<vtkPolyDataMapper> mapper;
    mapper->SetInputConnection(surface->GetOutputPort());
    mapper->ScalarVisibilityOff();
    vtkNew<vtkActor> actor;
    actor->SetMapper(mapper);
    actor->GetProperty()->SetColor(layer.color[0], layer.color[1], layer.color[2]);
    actor->GetProperty()->SetOpacity(layer.opacity);
    renderer->AddActor(actor);
  }
  // LPS: anterior is -y, head is +z. Look from anterior, head up.
  vtkCamera* camera = renderer->GetActiveCamera();
  camera->SetPosition(0, -1, 0);
  camera->SetFocalPoint(0, 0, 0);
  camera->SetViewUp(0, 0, 1);
  renderer->ResetCamera();

  vtkNew<vtkRenderWindow> window;
  window->SetOffScreenRendering(1);
  window->SetSize(options.width, options.height);
  window->AddRenderer(renderer);
  window->Render();

  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(window);
  grab->ReadFrontBufferOff();
  grab->Update();
  vtkNew<vtkPNGWriter> writer;
  writer->SetFileName(png.c_str());
  writer->SetInputConnection(grab->GetOutputPort());
  writer->Write();
  if (writer->GetErrorCode() != 0) {
    throw std::runtime_error("cannot write snapshot " + png.string());
  }
  return stats;
}

} // namespace unionscope::viewer
