#pragma once
// From grouped headers to analysable images: CT series become one HU volume
// on an orthogonal, uniformly spaced grid (or a precise reason why not);
// radiographs become display-independent intensity images with their pixel
// spacing, view and laterality, each with where it came from.

#include "unionscope/filters/ImageTypes.h"
#include "unionscope/pipeline/dicom/DicomScan.h"

#include <array>
#include <filesystem>
#include <string>
#include <vector>

namespace unionscope::dicom {

/// Tolerances for turning a stack of slices into a volume.
struct VolumeRules {
  int minSlices = 5;              ///< fewer is a localizer set, not a volume
  double uniformTolerance = 0.05; ///< relative deviation from the median spacing
  double tiltToleranceDeg = 0.5;  ///< below this, slices count as orthogonal
  int maxMissingSlicesInGap = 3;  ///< bigger holes are refused, not invented
  double maxSpacingVariation =
      1.0; ///< steps above (1 + this) x median that are not whole gaps are refused
  double minStepFraction = 0.2; ///< steps below this share of the median mean overlapping slices
};

struct SliceSource {
  std::filesystem::path file;
  int frame = 0;
  std::array<double, 3> position{};
  double distance = 0; ///< along the slice normal
};

struct CtVolumePlan {
  std::vector<SliceSource> slices; ///< sorted along the normal
  std::array<double, 3> rowDirection{}, columnDirection{}, normal{};
  double columnSpacing = 0; ///< x: between columns (Pixel Spacing value 2)
  double rowSpacing = 0;    ///< y: between rows (Pixel Spacing value 1)
  int rows = 0, columns = 0;
  double sliceSpacing = 0; ///< of the output grid
  int outputSlices = 0;
  double gantryTiltDeg = 0; ///< angle between the slice normal and the stack direction
  double rescaleSlope = 1, rescaleIntercept = 0;
  bool resampled = false;
  std::vector<std::string> notes;   ///< what was corrected, and how
  std::vector<std::string> ignored; ///< images of the series left out, and why
  std::string rejectReason;         ///< non-empty when no volume can be made

  [[nodiscard]] bool ok() const { return rejectReason.empty(); }
};

CtVolumePlan planCtVolume(const SeriesGroup& series, const VolumeRules& rules = {});

/// Decodes the planned slices (in parallel) and builds the HU volume. HU are
/// computed in floating point from the stored values (non-integer slopes are
/// kept), padding becomes -1024, and the volume is resampled when the plan
/// says so. Throws DicomError naming the file when a slice cannot be decoded.
CtImage::Pointer loadCtVolume(const CtVolumePlan& plan);

struct RadiographPlan {
  std::filesystem::path file;
  std::string modality;
  std::string view = "unknown";       ///< "AP", "LAT" or "unknown"
  std::string viewSource;             ///< which attribute or hint said so
  std::string laterality = "unknown"; ///< "R", "L" or "unknown"
  /// Where the image's columns point in the patient ('L', 'R', 'A', 'P'),
  /// from the first letter of Patient Orientation; 0 when not stated.
  char columnsToward = 0;
  double pixelSpacingMm = 0; ///< at the patient plane when known; 0 when unknown
  std::string spacingSource; ///< "PixelSpacing", "ImagerPixelSpacing/ERMF", ..., "unknown"
  bool monochrome1 = false;
  std::string rejectReason;

  [[nodiscard]] bool ok() const { return rejectReason.empty(); }
};

RadiographPlan planRadiograph(const DicomFileHeader& header);

/// Pixels as 0..1 intensity with bone bright whatever the photometric
/// interpretation (MONOCHROME1 inverted), after the Modality LUT.
RadiographImage::Pointer loadRadiograph(const RadiographPlan& plan);

/// PNG, JPEG or TIFF exports of radiographs: unknown spacing, view from the
/// hint ("AP", "LAT" or empty).
struct PlainRadiograph {
  RadiographImage::Pointer image;
  RadiographPlan plan;
};
PlainRadiograph loadPlainRadiograph(const std::filesystem::path& file,
                                    const std::string& viewHint = {});
bool isPlainImageFile(const std::filesystem::path& file);

} // namespace unionscope::dicom
