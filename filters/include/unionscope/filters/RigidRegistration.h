#pragma once
// Rigid registration of a follow-up CT to the first visit's CT, on bone away
// from the fracture (DESIGN.md data flow step 4). Images in, a transform out.
// ITK v4 (itk::ImageRegistrationMethodv4, Euler3DTransform, mean squares,
// regular-step gradient descent, a three-level pyramid); its templates are
// instantiated only in RigidRegistration.cpp, which also writes the
// transform as an ITK transform file (the one file this library writes).
//
// Both CTs are first averaged in blocks onto a working grid of about
// workingSpacingMm (a 512x512x400 CT becomes ~170x170x200), so time and
// memory do not grow with the scanner's resolution. The metric is evaluated
// on the reference's bone (boneThresholdHu and up, widened by one working
// voxel so that both sides of the bone's edges count) outside a slab around
// the reference's fracture plane, where callus and the fracture gap change
// from visit to visit, and away from metal, whose streaks change with the
// limb's pose. The samples lie on a regular grid jittered with a fixed seed,
// and the metric runs as one work unit: the result is the same, bit for
// bit, whatever the thread count.
#include "unionscope/filters/ImageTypes.h"

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope {

/// Every threshold of the registration, with its default and its source.
struct RigidRegistrationParameters {
  /// Bone that drives the registration: woven callus and bone start near
  /// 300 HU, marrow and soft tissue stay below 100 HU (DESIGN.md typical
  /// values; CtAnalysisParameters::boneThresholdHu).
  double boneThresholdHu = 250;
  /// Metal: implants are above 2500 HU (DESIGN.md typical values;
  /// CtAnalysisParameters::metalThresholdHu).
  double metalThresholdHu = 2500;
  /// Bone this close to metal is left out: the bloom and the worst streaks
  /// (CtAnalysisParameters::metalMarginMm).
  double metalMarginMm = 2.5;
  /// Bone within this distance of the reference's fracture plane is left
  /// out: it holds the callus and the gap, which change between visits
  /// (CtAnalysisParameters::callusZoneHalfLengthMm, the zone where callus
  /// is counted).
  double fractureExclusionHalfWidthMm = 25;
  /// Intensities are clamped to this range before matching, so that air
  /// and metal streaks do not dominate the squared differences.
  double intensityFloorHu = -200;
  double intensityCeilingHu = 2000;
  /// The working grid: both CTs are averaged in whole-voxel blocks to about
  /// this spacing before anything else. 1 mm keeps a cortex (4-5 mm thick)
  /// several voxels wide, and linear interpolation over thousands of bone
  /// edges still resolves a small fraction of a voxel.
  double workingSpacingMm = 1.0;
  /// The pyramid over the working grid: shrink factors per level and the
  /// Gaussian smoothing (mm) applied first.
  std::vector<unsigned> shrinkFactors{4, 2, 1};
  std::vector<double> smoothingSigmasMm{2.0, 1.0, 0.0};
  /// At most this many metric samples per level (a regular share of the
  /// masked voxels): the time per iteration stays bounded on long scans.
  int maximumSamplesPerLevel = 20000;
  /// Optimizer (regular-step gradient descent): the first step (about mm of
  /// motion at the bone), the step at which it stops, and the most
  /// iterations per level.
  double initialStepMm = 1.0;
  double minimumStepMm = 0.01;
  int maximumIterations = 100;
  /// Fixed seed of the sample jitter: the same input gives the same result.
  int randomSeed = 20250303;
  /// Fewer reference bone voxels than this outside the exclusions: no
  /// registration (too little bone to trust).
  int minimumMaskVoxels = 2000;
  /// A result that moves the bone by more than this (rotation at the bone's
  /// extent plus translation) is taken for a failure: follow-up CTs of one
  /// limb are positioned within a few centimetres.
  double maximumMotionMm = 60;
};

/// The plane that is left out: the reference visit's fracture.
struct FracturePlane {
  std::array<double, 3> centre{}; ///< LPS mm
  std::array<double, 3> normal{}; ///< unit
};

struct RigidRegistrationResult {
  bool ok = false;
  std::string failureReason; ///< when !ok
  /// Maps a point of the reference CT (LPS mm) to the same anatomical point
  /// in the follow-up CT (ITK's fixed-to-moving convention):
  /// y = rotation * x + translation, rotation row-major.
  std::array<double, 9> rotation{1, 0, 0, 0, 1, 0, 0, 0, 1};
  std::array<double, 3> translation{};
  /// The centre of rotation (the centroid of the registered bone) and its
  /// displacement: translation as a reader would think of it.
  std::array<double, 3> centre{};
  std::array<double, 3> centreDisplacementMm{};
  double rotationDeg = 0; ///< angle of the rotation (axis-angle)
  double metric = 0;      ///< final mean squared difference (HU^2) on the finest level
  int maskVoxels = 0;     ///< reference voxels the metric was evaluated on
  int iterations = 0;     ///< over all levels
  /// The finest level stopped because its step became small, not because it
  /// ran out of iterations.
  bool converged = false;
  std::string stopCondition;
  /// ITK's Euler3DTransform parameters (angles about x, y, z in radians,
  /// then its translation in mm) about `centre`: what the transform file
  /// holds.
  std::array<double, 6> eulerParameters{};
  std::vector<std::string> notes;
  double milliseconds = 0; ///< wall time; never written to reports

  /// The transform applied to a point.
  [[nodiscard]] std::array<double, 3> apply(const std::array<double, 3>& point) const;
};

/// Registers `followUp` to `reference` rigidly. `referenceFracture`: the
/// reference visit's fracture plane (CtAnalysisResult::fractureCentre and
/// fractureNormal); without it all bone away from metal is used (noted).
/// Never throws for a registration that does not converge: the result says
/// why (ok = false).
RigidRegistrationResult
registerFollowUpRigidly(const CtImage& reference, const CtImage& followUp,
                        const std::optional<FracturePlane>& referenceFracture,
                        const RigidRegistrationParameters& parameters = {});

/// Registers ITK's text transform IO and its transform types, once per
/// process; safe from any thread. ITK would otherwise register the types on
/// the first transform writer it constructs, without a lock.
void registerTransformFileSupport();

/// Writes the result as an ITK transform file (Euler3DTransform_double_3_3,
/// ITK's text format: `path` ends in .tfm or .txt; readable by
/// itk::TransformFileReader and 3D Slicer). ITK's fixed-to-moving convention:
/// it maps reference points to follow-up points. Throws std::runtime_error.
void writeItkTransformFile(const RigidRegistrationResult& result,
                           const std::filesystem::path& path);

} // namespace unionscope
