#include "Scene.h"

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/pipeline/ResultVolumes.h"

#include <fmt/format.h>
#include <vtkActor.h>
#include <vtkBillboardTextActor3D.h>
#include <vtkCamera.h>
#include <vtkCellArray.h>
#include <vtkColorTransferFunction.h>
#include <vtkFlyingEdges3D.h>
#include <vtkImageActor.h>
#include <vtkImageContinuousDilate3D.h>
#include <vtkImageData.h>
#include <vtkImageMapToColors.h>
#include <vtkImageMapToWindowLevelColors.h>
#include <vtkImageMapper3D.h>
#include <vtkImageProperty.h>
#include <vtkImageReslice.h>
#include <vtkLookupTable.h>
#include <vtkMassProperties.h>
#include <vtkMatrix4x4.h>
#include <vtkNew.h>
#include <vtkPNGReader.h>
#include <vtkPNGWriter.h>
#include <vtkPointData.h>
#include <vtkPoints.h>
#include <vtkPolyData.h>
#include <vtkPolyDataMapper.h>
#include <vtkProbeFilter.h>
#include <vtkProperty.h>
#include <vtkRegularPolygonSource.h>
#include <vtkRenderWindow.h>
#include <vtkRenderer.h>
#include <vtkScalarBarActor.h>
#include <vtkTextActor.h>
#include <vtkTextProperty.h>
#include <vtkTubeFilter.h>
#include <vtkWindowToImageFilter.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>

namespace unionscope::viewer::detail {
namespace {

namespace fs = std::filesystem;
using Vec3 = std::array<double, 3>;

Vec3 add(const Vec3& a, const Vec3& b, double s = 1.0) {
  return {a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]};
}
double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
Vec3 normalized(const Vec3& v) {
  const double n = std::sqrt(dot(v, v));
  return n > 1e-12 ? Vec3{v[0] / n, v[1] / n, v[2] / n} : Vec3{0, 0, 1};
}
/// `v` without its component along the unit vector `n`, normalised.
Vec3 perpendicular(const Vec3& v, const Vec3& n) {
  return normalized(add(v, n, -dot(v, n)));
}

constexpr double kCallusLowHu = 200.0;
/// Callus voxels are split 2 x 2 x 2 before the surface is extracted.
constexpr int kCallusSubdivision = 2;
constexpr double kCallusHighHu = 1400.0;

/// The frame the VTK images live in: ITK's index -> LPS mapping without the
/// direction (VTK 9.1's filters do not all honour vtkImageData directions),
/// anchored at the label map's origin. `toPatient` maps it to LPS.
struct ImageFrame {
  Vec3 anchor{};
  std::array<double, 9> direction{1, 0, 0, 0, 1, 0, 0, 0, 1}; ///< row-major
  vtkSmartPointer<vtkMatrix4x4> toPatient;

  explicit ImageFrame(const MaskImage& labels) {
    for (int i = 0; i < 3; ++i) {
      anchor[i] = labels.GetOrigin()[i];
      for (int j = 0; j < 3; ++j) {
        direction[i * 3 + j] = labels.GetDirection()(i, j);
      }
    }
    // p = anchor + D (q - anchor)
    toPatient = vtkSmartPointer<vtkMatrix4x4>::New();
    for (int i = 0; i < 3; ++i) {
      double t = anchor[i];
      for (int j = 0; j < 3; ++j) {
        toPatient->SetElement(i, j, direction[i * 3 + j]);
        t -= direction[i * 3 + j] * anchor[j];
      }
      toPatient->SetElement(i, 3, t);
    }
  }
  /// Where an image with this LPS origin sits in the frame: anchor + D^T (o - anchor).
  [[nodiscard]] Vec3 frameOrigin(const Vec3& origin) const {
    Vec3 q = anchor;
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        q[i] += direction[j * 3 + i] * (origin[j] - anchor[j]);
      }
    }
    return q;
  }
};

template <typename Image> Vec3 originOf(const Image& image) {
  return {image.GetOrigin()[0], image.GetOrigin()[1], image.GetOrigin()[2]};
}

/// Voxels equal to `label` as 0/255, cut to their bounding box, each voxel
/// split into factor^3 (nearest neighbour), and padded with background so
/// that the surface closes. Splitting keeps the iso-surface closer to the
/// voxels' faces: at 0.5 it cuts every convex edge and corner, which on thin
/// callus loses 4-13% of the volume at factor 1 and a third as much at 2
/// (docs/viewer.md). Null when no voxel has the label.
vtkSmartPointer<vtkImageData> binaryMask(const MaskImage& labels, std::uint8_t label,
                                         const ImageFrame& frame, int factor = 1) {
  const auto size = labels.GetLargestPossibleRegion().GetSize();
  const long nx = long(size[0]);
  const long ny = long(size[1]);
  const long nz = long(size[2]);
  const std::uint8_t* in = labels.GetBufferPointer();
  std::array<long, 3> low{nx, ny, nz};
  std::array<long, 3> high{-1, -1, -1};
  for (long k = 0; k < nz; ++k) {
    for (long j = 0; j < ny; ++j) {
      for (long i = 0; i < nx; ++i) {
        if (in[(k * ny + j) * nx + i] == label) {
          low = {std::min(low[0], i), std::min(low[1], j), std::min(low[2], k)};
          high = {std::max(high[0], i), std::max(high[1], j), std::max(high[2], k)};
        }
      }
    }
  }
  if (high[0] < 0) {
    return nullptr;
  }
  const std::array<long, 3> count{(high[0] - low[0] + 1) * factor + 2,
                                  (high[1] - low[1] + 1) * factor + 2,
                                  (high[2] - low[2] + 1) * factor + 2};
  auto image = vtkSmartPointer<vtkImageData>::New();
  image->SetDimensions(int(count[0]), int(count[1]), int(count[2]));
  const auto spacing = labels.GetSpacing();
  image->SetSpacing(spacing[0] / factor, spacing[1] / factor, spacing[2] / factor);
  const Vec3 origin = frame.frameOrigin(originOf(labels));
  const double shift = double(factor - 1) / (2.0 * factor); // sub-voxel centres
  image->SetOrigin(origin[0] + (double(low[0]) - shift) * spacing[0] - spacing[0] / factor,
                   origin[1] + (double(low[1]) - shift) * spacing[1] - spacing[1] / factor,
                   origin[2] + (double(low[2]) - shift) * spacing[2] - spacing[2] / factor);
  image->AllocateScalars(VTK_UNSIGNED_CHAR, 1);
  auto* out = static_cast<unsigned char*>(image->GetScalarPointer());
  std::fill(out, out + count[0] * count[1] * count[2], 0);
  for (long k = 1; k + 1 < count[2]; ++k) {
    const long sk = low[2] + (k - 1) / factor;
    for (long j = 1; j + 1 < count[1]; ++j) {
      const long sj = low[1] + (j - 1) / factor;
      const std::uint8_t* row = in + (sk * ny + sj) * nx;
      unsigned char* target = out + (k * count[1] + j) * count[0];
      for (long i = 1; i + 1 < count[0]; ++i) {
        target[i] = row[low[0] + (i - 1) / factor] == label ? 255 : 0;
      }
    }
  }
  return image;
}

/// The CT as VTK image in the frame; with `callusOnly`, voxels outside the
/// label map's callus read -1024 (so the density colour is the callus' own).
vtkSmartPointer<vtkImageData> ctImage(const CtImage& ct, const MaskImage& labels,
                                      const ImageFrame& frame, bool callusOnly) {
  const auto size = ct.GetLargestPossibleRegion().GetSize();
  auto image = vtkSmartPointer<vtkImageData>::New();
  image->SetDimensions(static_cast<int>(size[0]), static_cast<int>(size[1]),
                       static_cast<int>(size[2]));
  image->SetSpacing(ct.GetSpacing()[0], ct.GetSpacing()[1], ct.GetSpacing()[2]);
  const Vec3 origin = frame.frameOrigin(originOf(ct));
  image->SetOrigin(origin[0], origin[1], origin[2]);
  image->AllocateScalars(VTK_SHORT, 1);
  auto* out = static_cast<short*>(image->GetScalarPointer());
  const std::int16_t* in = ct.GetBufferPointer();
  const std::size_t count = size[0] * size[1] * size[2];
  if (!callusOnly) {
    std::copy(in, in + count, out);
    return image;
  }
  // Both volumes were cut from the same CT grid: an index offset apart.
  itk::Point<double, 3> first;
  ct.TransformIndexToPhysicalPoint({{0, 0, 0}}, first);
  MaskImage::IndexType offset;
  labels.TransformPhysicalPointToIndex(first, offset);
  const auto labelSize = labels.GetLargestPossibleRegion().GetSize();
  for (std::size_t k = 0; k < size[2]; ++k) {
    for (std::size_t j = 0; j < size[1]; ++j) {
      for (std::size_t i = 0; i < size[0]; ++i) {
        const std::size_t v = (k * size[1] + j) * size[0] + i;
        const long li = offset[0] + long(i);
        const long lj = offset[1] + long(j);
        const long lk = offset[2] + long(k);
        const bool inside = li >= 0 && lj >= 0 && lk >= 0 && li < long(labelSize[0]) &&
                            lj < long(labelSize[1]) && lk < long(labelSize[2]);
        const bool callus =
            inside && labels.GetBufferPointer()[(std::size_t(lk) * labelSize[1] + std::size_t(lj)) *
                                                    labelSize[0] +
                                                std::size_t(li)] == kLabelCallus;
        out[v] = callus ? in[v] : static_cast<short>(-1024);
      }
    }
  }
  return image;
}

struct Surface {
  vtkSmartPointer<vtkPolyData> polyData;
  double enclosedVolumeMm3 = 0;
  std::size_t triangles = 0;
};

Surface flyingEdges(vtkImageData* mask) {
  Surface surface;
  if (mask == nullptr) {
    surface.polyData = vtkSmartPointer<vtkPolyData>::New();
    return surface;
  }
  vtkNew<vtkFlyingEdges3D> edges;
  edges->SetInputData(mask);
  edges->SetValue(0, 127.5);
  edges->ComputeNormalsOn();
  edges->Update();
  surface.polyData = edges->GetOutput();
  surface.triangles = static_cast<std::size_t>(surface.polyData->GetNumberOfCells());
  if (surface.triangles > 0) {
    vtkNew<vtkMassProperties> mass;
    mass->SetInputData(surface.polyData);
    mass->Update();
    surface.enclosedVolumeMm3 = mass->GetVolume();
  }
  return surface;
}

vtkSmartPointer<vtkMatrix4x4> matrixOf(const Matrix4& m) {
  auto matrix = vtkSmartPointer<vtkMatrix4x4>::New();
  matrix->DeepCopy(m.data());
  return matrix;
}

vtkSmartPointer<vtkActor> actorFor(vtkPolyData* polyData, const Vec3& colour, double opacity,
                                   vtkMatrix4x4* userMatrix) {
  vtkNew<vtkPolyDataMapper> mapper;
  mapper->SetInputData(polyData);
  mapper->ScalarVisibilityOff();
  auto actor = vtkSmartPointer<vtkActor>::New();
  actor->SetMapper(mapper);
  actor->GetProperty()->SetColor(colour[0], colour[1], colour[2]);
  actor->GetProperty()->SetOpacity(opacity);
  actor->SetUserMatrix(userMatrix);
  return actor;
}

vtkSmartPointer<vtkColorTransferFunction> callusColours() {
  auto colours = vtkSmartPointer<vtkColorTransferFunction>::New();
  colours->AddRGBPoint(kCallusLowHu, 0.70, 0.18, 0.10);
  colours->AddRGBPoint(600, 0.95, 0.50, 0.12);
  colours->AddRGBPoint(1000, 1.00, 0.85, 0.35);
  colours->AddRGBPoint(kCallusHighHu, 1.00, 1.00, 0.90);
  return colours;
}

Vec3 categoryColour(std::optional<int> category) {
  if (!category) {
    return {0.55, 0.55, 0.55};
  }
  switch (*category) {
  case 1:
    return {0.90, 0.22, 0.20};
  case 2:
    return {0.98, 0.62, 0.10};
  case 3:
    return {0.65, 0.90, 0.25};
  default:
    return {0.15, 0.80, 0.45};
  }
}

/// Radius (mm, from the fracture centre, across the axis) that holds the bone
/// and callus within 3 mm of the fracture plane.
double shaftRadius(const MaskImage& labels, const Vec3& centre, const Vec3& axis) {
  const auto size = labels.GetLargestPossibleRegion().GetSize();
  double radius = 0;
  const std::uint8_t* value = labels.GetBufferPointer();
  MaskImage::IndexType index;
  itk::Point<double, 3> p;
  for (std::size_t k = 0; k < size[2]; ++k) {
    for (std::size_t j = 0; j < size[1]; ++j) {
      for (std::size_t i = 0; i < size[0]; ++i, ++value) {
        if (*value != kLabelBone && *value != kLabelCallus) {
          continue;
        }
        index = {{long(i), long(j), long(k)}};
        labels.TransformIndexToPhysicalPoint(index, p);
        const Vec3 d{p[0] - centre[0], p[1] - centre[1], p[2] - centre[2]};
        const double along = dot(d, axis);
        if (std::abs(along) <= 3.0) {
          radius = std::max(radius, std::sqrt(std::max(0.0, dot(d, d) - along * along)));
        }
      }
    }
  }
  return radius > 0 ? radius : 15.0;
}

vtkSmartPointer<vtkTextActor> textActor(const std::string& text, int size, const Vec3& colour) {
  auto actor = vtkSmartPointer<vtkTextActor>::New();
  actor->SetInput(text.c_str());
  actor->GetTextProperty()->SetFontSize(size);
  actor->GetTextProperty()->SetColor(colour[0], colour[1], colour[2]);
  actor->GetTextProperty()->SetFontFamilyToArial();
  return actor;
}

/// A 2D renderer that shows `image` filling its viewport.
vtkSmartPointer<vtkRenderer> imagePanel(vtkImageActor* image, const std::string& caption,
                                        const std::vector<vtkProp*>& more = {}) {
  auto renderer = vtkSmartPointer<vtkRenderer>::New();
  renderer->SetBackground(0.02, 0.02, 0.03);
  renderer->AddActor(image);
  for (vtkProp* prop : more) {
    renderer->AddActor(prop);
  }
  auto text = textActor(caption, 12, {0.9, 0.9, 0.9});
  text->SetPosition(4, 4);
  renderer->AddActor2D(text);
  renderer->GetActiveCamera()->ParallelProjectionOn();
  renderer->InteractiveOff(); // the 2D row does not steal the 3D view's mouse
  return renderer;
}

/// Fits a parallel camera to the image bounds for the viewport's aspect.
void fitImage(vtkRenderer* renderer, const double bounds[6], double viewportAspect) {
  const double w = bounds[1] - bounds[0];
  const double h = bounds[3] - bounds[2];
  const double cx = (bounds[0] + bounds[1]) / 2;
  const double cy = (bounds[2] + bounds[3]) / 2;
  vtkCamera* camera = renderer->GetActiveCamera();
  camera->SetFocalPoint(cx, cy, 0);
  camera->SetPosition(cx, cy, 1000);
  camera->SetViewUp(0, 1, 0);
  camera->SetParallelScale(std::max(h / 2, w / 2 / std::max(viewportAspect, 1e-3)) * 1.02);
  renderer->ResetCameraClippingRange();
}

struct LoadedVisit {
  MaskImage::Pointer labels;
  CtImage::Pointer ct;
};

/// The 2D row of one visit: the CT reformatted through the fracture (the
/// plane holding the bone's axis and the patient's left-right direction,
/// callus and metal tinted), then each radiograph's overlay.
std::vector<vtkSmartPointer<vtkRenderer>> visitPanels(const AnalysedVisit& visit,
                                                      const LoadedVisit& loaded,
                                                      const std::optional<ImageFrame>& frame) {
  std::vector<vtkSmartPointer<vtkRenderer>> panels;
  if (loaded.ct && loaded.labels && frame) {
    const Vec3 axis = normalized(
        visit.shaftAxis[2] < 0 ? Vec3{-visit.shaftAxis[0], -visit.shaftAxis[1], -visit.shaftAxis[2]}
                               : visit.shaftAxis);
    const Vec3 across = perpendicular({1, 0, 0}, axis); // patient left on screen right
    const Vec3 normal = cross(across, axis);
    // Reslice axes: output (u, v, 0) -> frame coordinates.
    vtkNew<vtkMatrix4x4> planeToPatient;
    for (int i = 0; i < 3; ++i) {
      planeToPatient->SetElement(i, 0, across[i]);
      planeToPatient->SetElement(i, 1, axis[i]);
      planeToPatient->SetElement(i, 2, normal[i]);
      planeToPatient->SetElement(i, 3, visit.fractureCentre[i]);
    }
    vtkNew<vtkMatrix4x4> patientToFrame;
    vtkMatrix4x4::Invert(frame->toPatient, patientToFrame);
    vtkNew<vtkMatrix4x4> axes;
    vtkMatrix4x4::Multiply4x4(patientToFrame, planeToPatient, axes);
    const double spacing = std::max(0.25, loaded.ct->GetSpacing()[0]);
    const int n = static_cast<int>(2 * kCtKeptRadiusMm / spacing);
    const auto reslice = [&](vtkImageData* input, bool nearest) {
      auto r = vtkSmartPointer<vtkImageReslice>::New();
      r->SetInputData(input);
      r->SetResliceAxes(axes);
      r->SetOutputDimensionality(2);
      r->SetOutputSpacing(spacing, spacing, spacing);
      r->SetOutputOrigin(-kCtKeptRadiusMm, -kCtKeptRadiusMm, 0);
      r->SetOutputExtent(0, n - 1, 0, n - 1, 0, 0);
      r->SetBackgroundLevel(nearest ? 0 : -1024);
      if (nearest) {
        r->SetInterpolationModeToNearestNeighbor();
      } else {
        r->SetInterpolationModeToLinear();
      }
      r->Update();
      return r;
    };
    auto ctSlice = reslice(ctImage(*loaded.ct, *loaded.labels, *frame, false), false);
    vtkNew<vtkImageMapToWindowLevelColors> grey;
    grey->SetInputConnection(ctSlice->GetOutputPort());
    grey->SetWindow(2200);
    grey->SetLevel(500);
    grey->Update();
    auto ctActor = vtkSmartPointer<vtkImageActor>::New();
    ctActor->GetMapper()->SetInputConnection(grey->GetOutputPort());
    ctActor->Update();
    // Labels: the mask image carries CtLabel values when built for label 0..3
    // through a lookup table: callus orange, metal blue, the rest clear.
    const auto size = loaded.labels->GetLargestPossibleRegion().GetSize();
    auto labelImage = vtkSmartPointer<vtkImageData>::New();
    labelImage->SetDimensions(int(size[0]), int(size[1]), int(size[2]));
    labelImage->SetSpacing(loaded.labels->GetSpacing()[0], loaded.labels->GetSpacing()[1],
                           loaded.labels->GetSpacing()[2]);
    const Vec3 o = frame->frameOrigin(originOf(*loaded.labels));
    labelImage->SetOrigin(o[0], o[1], o[2]);
    labelImage->AllocateScalars(VTK_UNSIGNED_CHAR, 1);
    std::copy(loaded.labels->GetBufferPointer(),
              loaded.labels->GetBufferPointer() + size[0] * size[1] * size[2],
              static_cast<unsigned char*>(labelImage->GetScalarPointer()));
    auto labelSlice = reslice(labelImage, true);
    vtkNew<vtkLookupTable> table;
    table->SetNumberOfTableValues(4);
    table->SetTableRange(0, 3);
    table->SetTableValue(0, 0, 0, 0, 0);
    table->SetTableValue(1, 0, 0, 0, 0);
    table->SetTableValue(2, 1.0, 0.55, 0.1, 0.45);
    table->SetTableValue(3, 0.3, 0.5, 1.0, 0.6);
    table->Build();
    vtkNew<vtkImageMapToColors> tint;
    tint->SetInputConnection(labelSlice->GetOutputPort());
    tint->SetLookupTable(table);
    tint->SetOutputFormatToRGBA();
    tint->Update();
    auto labelActor = vtkSmartPointer<vtkImageActor>::New();
    labelActor->GetMapper()->SetInputConnection(tint->GetOutputPort());
    labelActor->SetPosition(0, 0, 0.5);
    labelActor->Update();
    // The fracture plane meets the slice along v = 0.
    vtkNew<vtkPoints> points;
    points->InsertNextPoint(-kCtKeptRadiusMm, 0, 1);
    points->InsertNextPoint(-kCtKeptRadiusMm + 8, 0, 1);
    points->InsertNextPoint(kCtKeptRadiusMm - 8, 0, 1);
    points->InsertNextPoint(kCtKeptRadiusMm, 0, 1);
    vtkNew<vtkCellArray> lines;
    lines->InsertNextCell({0, 1});
    lines->InsertNextCell({2, 3});
    vtkNew<vtkPolyData> ticks;
    ticks->SetPoints(points);
    ticks->SetLines(lines);
    auto tickActor = actorFor(ticks, {0.4, 0.8, 1.0}, 1.0, nullptr);
    tickActor->GetProperty()->SetLineWidth(2);
    panels.push_back(imagePanel(ctActor, fmt::format("{} CT coronal", visit.label),
                                {labelActor.GetPointer(), tickActor.GetPointer()}));
  }
  for (const RadiographPicture& picture : visit.radiographs) {
    if (!fs::is_regular_file(picture.overlay)) {
      continue;
    }
    vtkNew<vtkPNGReader> reader;
    reader->SetFileName(picture.overlay.c_str());
    reader->Update();
    if (reader->GetOutput()->GetNumberOfPoints() == 0) {
      continue;
    }
    auto actor = vtkSmartPointer<vtkImageActor>::New();
    actor->GetMapper()->SetInputConnection(reader->GetOutputPort());
    actor->Update();
    panels.push_back(
        imagePanel(actor, fmt::format("{} {}", visit.label,
                                      picture.view.empty() ? std::string("?") : picture.view)));
  }
  return panels;
}

std::string captionOf(const AnalysedVisit& visit) {
  const auto optional = [](const auto& value) {
    return value ? fmt::format("{}", *value) : std::string("-");
  };
  std::string text = visit.label;
  if (visit.weeks) {
    text += fmt::format("  ({:g} weeks)", *visit.weeks);
  }
  text += fmt::format("\nmRUST {}  RUST {}  union {}", optional(visit.mrust), optional(visit.rust),
                      visit.unionReached ? (*visit.unionReached ? "yes" : "no") : "-");
  if (visit.callusVolumeMm3) {
    text += fmt::format("\ncallus {:.0f} mm3", *visit.callusVolumeMm3);
    if (visit.callusMeanHu) {
      text += fmt::format(", {:.0f} HU", *visit.callusMeanHu);
    }
  }
  text += visit.registeredTo.empty() ? std::string("\nunregistered frame")
                                     : "\nregistered to " + visit.registeredTo;
  return text;
}

/// Everything of one visit in 3D, in the registered frame.
VisitScene visitScene(const AnalysedPatient& patient, const AnalysedVisit& visit, bool withPanels) {
  VisitScene scene;
  scene.statistics.label = visit.label;
  scene.statistics.reportCallusVolumeMm3 = visit.callusVolumeMm3;
  scene.caption = textActor(captionOf(visit), 15, {0.95, 0.95, 0.95});
  LoadedVisit loaded;
  if (!visit.labelMapFile.empty()) {
    loaded.labels = readLabelMap(visit.labelMapFile);
    if (!visit.ctFile.empty()) {
      loaded.ct = readCtVolume(visit.ctFile);
    }
  }
  const vtkSmartPointer<vtkMatrix4x4> toReference = matrixOf(visit.toReference);
  std::optional<ImageFrame> frame;
  if (loaded.labels) {
    frame.emplace(*loaded.labels);
    scene.statistics.hasVolumes = true;
    vtkNew<vtkMatrix4x4> surfaceMatrix;
    vtkMatrix4x4::Multiply4x4(toReference, frame->toPatient, surfaceMatrix);

    const Surface bone = flyingEdges(binaryMask(*loaded.labels, kLabelBone, *frame));
    scene.statistics.boneTriangles = bone.triangles;
    scene.props3d.push_back(actorFor(bone.polyData, {0.89, 0.86, 0.78}, 1.0, surfaceMatrix));
    const Surface metal = flyingEdges(binaryMask(*loaded.labels, kLabelMetal, *frame));
    if (metal.triangles > 0) {
      scene.props3d.push_back(actorFor(metal.polyData, {0.45, 0.55, 0.75}, 1.0, surfaceMatrix));
    }
    const Surface callus =
        flyingEdges(binaryMask(*loaded.labels, kLabelCallus, *frame, kCallusSubdivision));
    scene.statistics.callusTriangles = callus.triangles;
    scene.statistics.callusEnclosedVolumeMm3 = callus.enclosedVolumeMm3;
    if (callus.triangles > 0) {
      auto actor = actorFor(callus.polyData, {0.95, 0.55, 0.15}, 1.0, surfaceMatrix);
      if (loaded.ct) {
        // Density: the highest callus HU next to each surface point.
        vtkNew<vtkImageContinuousDilate3D> nearest;
        nearest->SetInputData(ctImage(*loaded.ct, *loaded.labels, *frame, true));
        nearest->SetKernelSize(3, 3, 3);
        vtkNew<vtkProbeFilter> probe;
        probe->SetInputData(callus.polyData);
        probe->SetSourceConnection(nearest->GetOutputPort());
        probe->PassPointArraysOn();
        probe->Update();
        vtkNew<vtkPolyDataMapper> mapper;
        mapper->SetInputConnection(probe->GetOutputPort());
        mapper->SetScalarModeToUsePointFieldData();
        mapper->SelectColorArray("ImageScalars");
        mapper->SetLookupTable(callusColours());
        mapper->SetColorModeToMapScalars();
        mapper->SetScalarRange(kCallusLowHu, kCallusHighHu);
        mapper->ScalarVisibilityOn();
        actor->SetMapper(mapper);
      }
      scene.props3d.push_back(actor);
    }
  }
  // Fracture plane and cortex arcs, in LPS, then into the registered frame.
  if (visit.fractureFound) {
    const Vec3 axis = normalized(visit.shaftAxis);
    const Vec3 planeNormal = normalized(visit.fractureNormal);
    const double radius =
        loaded.labels ? shaftRadius(*loaded.labels, visit.fractureCentre, axis) : 15.0;
    vtkNew<vtkRegularPolygonSource> disc;
    disc->SetCenter(visit.fractureCentre[0], visit.fractureCentre[1], visit.fractureCentre[2]);
    disc->SetNormal(planeNormal[0], planeNormal[1], planeNormal[2]);
    disc->SetRadius(radius + 9.0);
    disc->SetNumberOfSides(72);
    disc->Update();
    auto plane = actorFor(disc->GetOutput(), {0.35, 0.75, 1.0}, 0.22, toReference);
    plane->GetProperty()->LightingOff();
    scene.props3d.push_back(plane);

    const double medialSign = patient.laterality == "L" ? -1.0 : 1.0;
    const bool lateralityKnown = patient.laterality == "R" || patient.laterality == "L";
    const std::array<std::pair<Vec3, const char*>, 4> directions{
        std::pair{Vec3{0, -1, 0}, "A"}, std::pair{Vec3{0, 1, 0}, "P"},
        std::pair{Vec3{medialSign, 0, 0}, "M"}, std::pair{Vec3{-medialSign, 0, 0}, "L"}};
    const double arcRadius = radius + 3.0;
    for (Cortex cortex : kAllCortices) {
      const auto c = static_cast<std::size_t>(cortex);
      const Vec3 toward = perpendicular(directions[c].first, axis);
      const Vec3 side = cross(axis, toward);
      vtkNew<vtkPoints> points;
      vtkNew<vtkCellArray> line;
      constexpr int kSteps = 24;
      line->InsertNextCell(kSteps + 1);
      for (int s = 0; s <= kSteps; ++s) {
        const double t = (-38.0 + 76.0 * s / kSteps) * M_PI / 180.0;
        const Vec3 p = add(add(visit.fractureCentre, toward, arcRadius * std::cos(t)), side,
                           arcRadius * std::sin(t));
        line->InsertCellPoint(points->InsertNextPoint(p.data()));
      }
      vtkNew<vtkPolyData> arcLine;
      arcLine->SetPoints(points);
      arcLine->SetLines(line);
      vtkNew<vtkTubeFilter> tube;
      tube->SetInputData(arcLine);
      tube->SetRadius(1.0);
      tube->SetNumberOfSides(10);
      tube->Update();
      CortexArc& arc = scene.arcs[c];
      arc.letter = std::string(directions[c].second) + (lateralityKnown || c < 2 ? "" : "?");
      arc.actor = actorFor(tube->GetOutput(), {1, 1, 1}, 1.0, toReference);
      arc.text = vtkSmartPointer<vtkBillboardTextActor3D>::New();
      // The label's anchor, taken into the registered frame by hand.
      const Vec3 at = add(visit.fractureCentre, toward, arcRadius + 6.0);
      double moved[4] = {at[0], at[1], at[2], 1.0};
      toReference->MultiplyPoint(moved, moved);
      arc.text->SetPosition(moved[0], moved[1], moved[2]);
      arc.text->GetTextProperty()->SetFontSize(18);
      arc.text->GetTextProperty()->BoldOn();
      arc.text->GetTextProperty()->SetJustificationToCentered();
      arc.text->GetTextProperty()->SetVerticalJustificationToCentered();
      setArcCategory(arc, visit.cortices[c].category, false, false);
      scene.props3d.push_back(arc.actor);
      scene.props3d.push_back(arc.text);
    }
  }
  if (withPanels) {
    scene.panels = visitPanels(visit, loaded, frame);
  }
  return scene;
}

void addLegend(vtkRenderer* renderer) {
  const std::array<const char*, 5> names{"1 no callus", "2 callus", "3 bridging", "4 remodelled",
                                         "n/a"};
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::optional<int> category =
        i < 4 ? std::optional<int>(static_cast<int>(i) + 1) : std::nullopt;
    auto text = textActor(names[i], 13, categoryColour(category));
    text->GetTextProperty()->BoldOn();
    text->SetPosition(8, 8 + 17 * static_cast<int>(names.size() - 1 - i));
    renderer->AddActor2D(text);
  }
  vtkNew<vtkScalarBarActor> bar;
  bar->SetLookupTable(callusColours());
  bar->SetTitle("callus HU");
  bar->SetNumberOfLabels(4);
  bar->SetLabelFormat("%.0f");
  bar->SetOrientationToVertical();
  bar->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  bar->GetPositionCoordinate()->SetValue(0.86, 0.08);
  bar->SetWidth(0.1);
  bar->SetHeight(0.42);
  bar->GetTitleTextProperty()->SetFontSize(12);
  bar->GetLabelTextProperty()->SetFontSize(11);
  bar->UnconstrainedFontSizeOn();
  renderer->AddActor2D(bar);
}

void placeCaption(vtkTextActor* caption) {
  caption->GetPositionCoordinate()->SetCoordinateSystemToNormalizedViewport();
  caption->GetPositionCoordinate()->SetValue(0.02, 0.80);
}

} // namespace

void setArcCategory(CortexArc& arc, std::optional<int> category, bool changed, bool selected) {
  if (!arc.actor) {
    return;
  }
  const Vec3 colour = categoryColour(category);
  arc.actor->GetProperty()->SetColor(colour[0], colour[1], colour[2]);
  arc.actor->GetProperty()->SetLineWidth(selected ? 3 : 1);
  arc.actor->GetProperty()->SetAmbient(selected ? 0.6 : 0.1);
  const std::string value = category ? std::to_string(*category) : std::string("n/a");
  arc.text->SetInput(
      fmt::format("{}{} {}{}", selected ? "> " : "", arc.letter, value, changed ? "*" : "")
          .c_str());
  arc.text->GetTextProperty()->SetColor(colour[0], colour[1], colour[2]);
}

void showVisit(Scene& scene, std::size_t index) {
  if (scene.layout != Layout::Slider || scene.visits.empty()) {
    return;
  }
  index = std::min(index, scene.visits.size() - 1);
  vtkRenderer* renderer = scene.renderers3d.front();
  for (std::size_t v = 0; v < scene.visits.size(); ++v) {
    for (const auto& prop : scene.visits[v].props3d) {
      prop->SetVisibility(v == index);
    }
    scene.visits[v].caption->SetVisibility(v == index);
    for (const auto& panel : scene.visits[v].panels) {
      if (v == index && !scene.window->HasRenderer(panel)) {
        scene.window->AddRenderer(panel);
      } else if (v != index && scene.window->HasRenderer(panel)) {
        scene.window->RemoveRenderer(panel);
      }
    }
  }
  renderer->ResetCameraClippingRange();
  scene.shownVisit = index;
}

Scene buildScene(const AnalysedPatient& patient, const SceneOptions& options, bool offScreen) {
  const auto start = std::chrono::steady_clock::now();
  Scene scene;
  scene.layout = options.layout;
  scene.window = vtkSmartPointer<vtkRenderWindow>::New();
  scene.window->SetOffScreenRendering(offScreen ? 1 : 0);
  scene.window->SetSize(options.width, options.height);
  scene.window->SetWindowName("UnionScope");
  for (const AnalysedVisit& visit : patient.visits) {
    scene.visits.push_back(visitScene(patient, visit, options.panel2d));
  }
  const std::size_t n = std::max<std::size_t>(1, scene.visits.size());
  bool anyPanels = false;
  for (const VisitScene& v : scene.visits) {
    anyPanels = anyPanels || !v.panels.empty();
  }
  scene.panel2d = options.panel2d && anyPanels;
  const double split = scene.panel2d ? 0.34 : 0.0;

  vtkNew<vtkCamera> camera; // one camera: the visits turn together
  const std::size_t columns = options.layout == Layout::SideBySide ? n : 1;
  for (std::size_t c = 0; c < columns; ++c) {
    auto renderer = vtkSmartPointer<vtkRenderer>::New();
    renderer->SetViewport(double(c) / double(columns), split, double(c + 1) / double(columns), 1.0);
    renderer->SetBackground(0.08, 0.09, 0.12);
    renderer->SetBackground2(0.20, 0.22, 0.28);
    renderer->GradientBackgroundOn();
    renderer->SetActiveCamera(camera);
    scene.window->AddRenderer(renderer);
    scene.renderers3d.push_back(renderer);
  }
  for (std::size_t v = 0; v < scene.visits.size(); ++v) {
    vtkRenderer* renderer = scene.renderers3d[options.layout == Layout::SideBySide ? v : 0];
    for (const auto& prop : scene.visits[v].props3d) {
      renderer->AddViewProp(prop);
    }
    placeCaption(scene.visits[v].caption);
    renderer->AddActor2D(scene.visits[v].caption);
  }
  if (!scene.renderers3d.empty()) {
    addLegend(scene.renderers3d.front());
  }
  // 2D row: each visit's panels under its column (slider: the shown visit's).
  for (std::size_t v = 0; v < scene.visits.size(); ++v) {
    const auto& panels = scene.visits[v].panels;
    const double x0 = options.layout == Layout::SideBySide ? double(v) / double(n) : 0.0;
    const double width = options.layout == Layout::SideBySide ? 1.0 / double(n) : 1.0;
    for (std::size_t p = 0; p < panels.size(); ++p) {
      const double w = width / double(panels.size());
      panels[p]->SetViewport(x0 + w * double(p), 0.0, x0 + w * double(p + 1), split);
      if (options.layout == Layout::SideBySide) {
        scene.window->AddRenderer(panels[p]);
      }
      const double aspect = (w * options.width) / std::max(1.0, split * options.height);
      double bounds[6];
      panels[p]->ComputeVisiblePropBounds(bounds);
      fitImage(panels[p], bounds, aspect);
    }
  }
  // Camera: from the patient's front, head up, a little from the side and
  // above so the four arcs read, on the first visit's fracture.
  if (!scene.renderers3d.empty()) {
    vtkRenderer* front = scene.renderers3d.front();
    camera->SetFocalPoint(0, 0, 0);
    camera->SetPosition(0, -1, 0);
    camera->SetViewUp(0, 0, 1);
    camera->Azimuth(25);
    camera->Elevation(18);
    camera->OrthogonalizeViewUp();
    double bounds[6] = {1, -1, 1, -1, 1, -1};
    for (const VisitScene& visit : scene.visits) {
      for (const auto& prop : visit.props3d) {
        if (vtkActor::SafeDownCast(prop) == nullptr) {
          continue; // labels have no useful bounds
        }
        double* b = vtkActor::SafeDownCast(prop)->GetBounds();
        if (b == nullptr || b[0] > b[1]) {
          continue;
        }
        const bool first = bounds[0] > bounds[1];
        for (int i = 0; i < 3; ++i) {
          bounds[2 * i] = first ? b[2 * i] : std::min(bounds[2 * i], b[2 * i]);
          bounds[2 * i + 1] = first ? b[2 * i + 1] : std::max(bounds[2 * i + 1], b[2 * i + 1]);
        }
      }
    }
    if (bounds[0] <= bounds[1]) {
      front->ResetCamera(bounds);
      camera->Zoom(1.15);
    }
    for (const auto& renderer : scene.renderers3d) {
      renderer->ResetCameraClippingRange(bounds);
    }
  }
  if (options.layout == Layout::Slider) {
    showVisit(scene, options.visit.value_or(scene.visits.empty() ? 0 : scene.visits.size() - 1));
  }
  scene.buildMilliseconds =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return scene;
}

} // namespace unionscope::viewer::detail

namespace unionscope::viewer {

SceneStatistics renderPatientSnapshot(const AnalysedPatient& patient,
                                      const std::filesystem::path& png,
                                      const SceneOptions& options) {
  detail::Scene scene = detail::buildScene(patient, options, true);
  const auto start = std::chrono::steady_clock::now();
  scene.window->Render();
  vtkNew<vtkWindowToImageFilter> grab;
  grab->SetInput(scene.window);
  grab->ReadFrontBufferOff();
  grab->Update();
  if (!png.parent_path().empty()) {
    std::filesystem::create_directories(png.parent_path());
  }
  vtkNew<vtkPNGWriter> writer;
  writer->SetFileName(png.c_str());
  writer->SetInputConnection(grab->GetOutputPort());
  writer->Write();
  if (writer->GetErrorCode() != 0) {
    throw std::runtime_error("cannot write the snapshot " + png.string());
  }
  SceneStatistics statistics;
  for (const detail::VisitScene& visit : scene.visits) {
    statistics.visits.push_back(visit.statistics);
  }
  statistics.buildMilliseconds = scene.buildMilliseconds;
  statistics.renderMilliseconds =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return statistics;
}

} // namespace unionscope::viewer
