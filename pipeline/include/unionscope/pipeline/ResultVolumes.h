#pragma once
// The volumes `analyze` keeps beside report.json for the viewer (DIR/volumes/):
// per analysed CT series the label map (bone 1, callus 2, metal 3; cropped to
// the labelled voxels) and the CT around the fracture (HU, int16), both as
// gzip-compressed NRRD in LPS patient coordinates, which 3D Slicer and ITK
// read as they are (VTK's own vtkNrrdReader does not inflate gzip: the viewer
// reads them through ITK, readLabelMap/readCtVolume). No identifiers: NRRD
// carries geometry and voxels only.
// The same input writes the same bytes (no clock, no paths in the files).

#include "unionscope/filters/ImageTypes.h"

#include <array>
#include <filesystem>
#include <string>

namespace unionscope {

/// Where the volumes go, relative to the output folder.
inline constexpr const char* kVolumeOutputFolder = "volumes";

/// How far around the fracture centre the CT is kept (mm, each way): the
/// callus zone (CtAnalysisParameters::callusZoneHalfLengthMm, 25 mm) with room
/// for a reformatted slice around it.
inline constexpr double kCtKeptRadiusMm = 40.0;

struct WrittenVolumes {
  std::string labelMapFile; ///< relative to the output folder
  std::string ctFile;       ///< relative to the output folder
};

/// Writes `<stem>_labels.nrrd` and `<stem>_ct.nrrd` under DIR/volumes/.
/// Throws std::runtime_error naming the file.
WrittenVolumes writeResultVolumes(const MaskImage& labels, const CtImage& ct,
                                  const std::array<double, 3>& fractureCentre,
                                  const std::filesystem::path& outputDirectory,
                                  const std::string& stem);

/// Reads a label map or CT volume written by writeResultVolumes (or any NRRD
/// of that pixel type). Throws std::runtime_error naming the file.
MaskImage::Pointer readLabelMap(const std::filesystem::path& file);
CtImage::Pointer readCtVolume(const std::filesystem::path& file);

} // namespace unionscope
