#pragma once
// Synthetic patients with healing tibial shaft fractures and ground truth:
// CT and AP/lateral DX radiographs per visit, written as real DICOM, plus
// truth.json in the terms of the report contract. Deterministic: the same
// spec writes the same bytes.

#include "unionscope/filters/ImageTypes.h"
#include "unionscope/filters/Scores.h"

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace unionscope::phantom {

enum class Scenario {
  NormalHealing,
  DelayedUnion,
  AtrophicNonunion,
  HypertrophicNonunion,
  PartialBridging
};
/// ExternalFixator: a uniplanar anteromedial frame, two pins in each
/// fragment clamped to one rod outside the limb.
enum class Implant { None, Nail, Plate, ExternalFixator };
enum class SizePreset { Small, Default, Large };
enum class FractureType { Transverse, Oblique };

std::string_view scenarioName(Scenario scenario); ///< "normal", "delayed", ...
std::optional<Scenario> scenarioFromName(std::string_view name);
std::vector<std::string> scenarioNames(); ///< every accepted --scenario value
std::string_view implantName(Implant implant);
std::optional<Implant> implantFromName(std::string_view name);
std::vector<std::string> implantNames(); ///< every accepted --implant value
std::optional<SizePreset> sizeFromName(std::string_view name);

/// Healing state of one cortex at one visit: a modified-RUST category and,
/// for category 3, the share of the cortex's arc that bridges.
struct CortexState {
  CortexCategory category = CortexCategory::NoCallus;
  double bridgedFraction = 0.0;   ///< share of the cortex's arc (by angle) that bridges
  double bridgeCentreDeg = 0.0;   ///< centre of the bridged sub-arc, from the sector centre
  double callusThicknessMm = 0.0; ///< peak periosteal collar thickness, at the gap
  double callusHu = 0.0;          ///< mineral density of this cortex's callus
};

struct VisitPlan {
  double weeks = 6;
  std::array<CortexState, 4> cortices; ///< indexed by Cortex
};

/// Everything that defines one phantom patient. makePatientSpec() fills it
/// from a seed; every field can be changed afterwards.
struct PatientSpec {
  std::uint64_t seed = 1;
  std::string patientId = "PHANTOM-0001";
  Scenario scenario = Scenario::NormalHealing;
  Implant implant = Implant::None;
  SizePreset size = SizePreset::Default;
  FractureType fracture = FractureType::Transverse;
  char laterality = 'R';
  double fractureObliquityDeg = 0; ///< angle of the fracture plane to the transverse plane
  double fractureAzimuthDeg = 0;   ///< direction the oblique plane rises toward
  double gapMm = 2.5;
  double shaftTiltDeg = 8; ///< shaft axis against the scanner z axis
  double shaftTiltAzimuthDeg = 30;
  double tibiaRadiusMm = 11; ///< mean outer radius of the shaft
  double cortexThicknessMm = 4.5;
  std::array<int, 3> voxels{256, 256, 120};
  std::array<double, 3> spacingMm{0.6, 0.6, 1.0};
  int ctEncoding = 0; ///< 0: u12 slope 1; 1: s16 slope 1; 2: u16 slope 0.5
  bool monochrome1 = false;
  double radiographPixelMm = 0.2;   ///< at the patient plane
  double magnificationFactor = 1.1; ///< ERMF
  std::string injuryDate = "20250303";
  std::vector<VisitPlan> visits;
  /// Limb pose per visit: small rotation (deg about x, y, z) and shift (mm).
  std::vector<std::array<double, 6>> visitPoses;
};

/// A patient whose scenario, implant and size are given and whose other
/// parameters (laterality, tilt, obliquity, spacing, healing details, pose)
/// are drawn from `seed`.
PatientSpec makePatientSpec(std::uint64_t seed, Scenario scenario, Implant implant, SizePreset size,
                            const std::vector<double>& visitWeeks = {6, 12, 24});

/// Voxel labels of the noiseless phantom.
enum Label : std::uint8_t {
  kAir = 0,
  kSoftTissue = 1,
  kFat = 2,
  kCortex = 3,
  kMarrow = 4,
  kCallus = 5,
  kMetal = 6,
  kFibula = 7,
  kGapTissue = 8,
};

/// One visit's rendered CT: HU as written, the labels behind it, and the
/// limb frame (all in LPS patient coordinates).
struct VisitVolume {
  CtImage::Pointer hu;
  MaskImage::Pointer labels;
  std::array<double, 3> fractureCenter{};
  std::array<double, 3> fractureNormal{};
  std::array<double, 3> shaftAxis{};
  std::array<double, 3> anterior{};
  std::array<double, 3> medial{};
  double callusVolumeMm3 = 0;
};

VisitVolume renderVisitCt(const PatientSpec& spec, std::size_t visitIndex);

/// The limb's true rigid motion between two visits' scans, from the poses
/// the phantom gave them: a point x of the reference scan (patient mm) is at
/// rotation * (x - from) + to in the follow-up. Rotation row-major; `from`
/// and `to` are the fracture centre in each scan. The yardstick for
/// registration.
struct VisitMotion {
  std::array<double, 9> rotation{};
  std::array<double, 3> from{};
  std::array<double, 3> to{};
  [[nodiscard]] std::array<double, 3> apply(const std::array<double, 3>& x) const;
};

VisitMotion visitMotion(const VisitVolume& reference, const VisitVolume& followUp);

/// Writes DICOM below `directory`/dicom and `directory`/truth.json, and with
/// `previews` PNGs of every visit below `directory`/preview. Returns the truth
/// document's path.
std::filesystem::path writePatient(const PatientSpec& spec, const std::filesystem::path& directory,
                                   bool previews = false);

/// N patients with a seeded mix of scenarios, implants and trajectories, one
/// folder each, plus `directory`/cohort_truth.json.
std::filesystem::path writeCohort(int patients, std::uint64_t seed, SizePreset size,
                                  const std::filesystem::path& directory,
                                  const std::vector<double>& visitWeeks = {6, 12, 24});

} // namespace unionscope::phantom
