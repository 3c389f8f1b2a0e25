#pragma once
// CT union analysis: from one HU volume (patient geometry, laterality) to the
// per-cortex modified-RUST categories, the bridged share of each cortex's
// circumference, callus measures and a structural surrogate. Images in,
// measurements out: no files, no DICOM.
//
// Method, in one paragraph. The shaft axis is fitted to the centroids of the
// largest bone cross-section of every axial slice. The volume is resampled on
// a polar grid around that axis (s along the shaft, theta around it, r out from
// it), where the tibia is told apart from the fibula by 3D connectivity and
// distance from the axis. The fracture is the surface where cortical density
// dips, fitted as a plane through the dips of all angles (robust to screw
// holes). A cortex's angle bin is bridged when mineralised tissue connects the
// proximal and the distal fragment through the fracture zone in 3D; the
// bridged fraction is the share of bridged bins in the cortex's 90-degree arc.
// Callus is mineralised tissue beyond the original cortex, which is
// interpolated from the intact shaft on both sides of the fracture; its
// volume is the density it adds to the intact shaft over its own density
// (blur keeps the sum), its presence a count of what clearly stands out.

#include "unionscope/filters/ImageTypes.h"
#include "unionscope/filters/Scores.h"

#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace unionscope {

enum class Laterality { Right, Left, Unknown };

/// Every threshold of the CT analysis, with its default and its source.
struct CtAnalysisParameters {
  /// Metal: implants are above 2500 HU, bone below 2000 (DESIGN.md typical values).
  double metalThresholdHu = 2500;
  /// Around metal, blooming and the worst streaks: excluded from every
  /// measurement. 2.5 mm covers the partial-volume bloom of a 0.3-0.8 mm
  /// reconstruction kernel with margin.
  double metalMarginMm = 2.5;
  /// Bone and mineralised callus: woven callus starts near 300 HU, marrow and
  /// soft tissue stay below 100 HU (DESIGN.md typical values).
  double boneThresholdHu = 250;
  /// Cortical bone for finding the shaft: cortex is 1200-2000 HU (DESIGN.md);
  /// 700 HU stays above soft tissue lifted by metal streaks and most callus.
  double corticalThresholdHu = 700;
  /// Tissue that counts for bridging: above soft tissue lifted by streak
  /// artefacts (up to ~250 HU), below early bridging callus (~400-600 HU).
  double bridgingThresholdHu = 350;
  /// Bridging tissue must also keep this share of the density at both ends of
  /// its path across the fracture zone: partial volume lets a 2 mm cleft
  /// between dense bone keep about a third of it, real bridging callus keeps
  /// nearly all of it.
  double bridgingRelativeDensity = 0.6;
  /// A cortex counts as bridged when this share of its arc bridges
  /// (DESIGN.md CT default, UnionRuleParameters::ctBridgedFractionThreshold).
  double bridgedFractionThreshold = 0.25;
  /// Remodelled (category 4): the cortex across the fracture regains this
  /// share of the intact cortex's density, so that no line remains.
  double remodelledDensityRatio = 0.7;
  /// Callus present (category 2 rather than 1): at least this much tissue
  /// clearly denser than the intact shaft at the same place (more than half a
  /// millimetre from where its cortex was) in the cortex's arc near the
  /// fracture...
  double callusPresentMm3 = 40;
  /// ... or this much callus in all, thin callus hugging the cortex included
  /// (a quarter millimetre on average over the arc and the zone).
  double callusPresentTotalMm3 = 250;
  /// Callus must be this much denser than the intact shaft at the same place
  /// (its 90th percentile there): above CT noise and the staircase of thick
  /// slices at the cortex's edge.
  double callusExcessHu = 100;
  /// Callus is counted within this distance of the fracture plane.
  double callusZoneHalfLengthMm = 25;
  /// Callus volume: the intact shaft's cortex may drift across the polar grid
  /// along the shaft by up to this slope (mm per mm, about 6 degrees of axis
  /// error); a steeper fit is taken for a failed one and not applied.
  double callusReferenceMaxDrift = 0.1;
  /// Callus volume: density above the intact shaft is summed within this
  /// radial distance of the bone (above boneThresholdHu): three times the
  /// blur (sigma ~0.5-0.8 mm) of a clinical reconstruction, so the blurred
  /// edge of thin callus is counted.
  double callusNeighbourhoodMm = 2.0;
  /// Callus volume: the fracture line is the original cortex within half the
  /// gap of the plane; the cortex this much further on either side is left
  /// out of the sum, since its blurred ends do not match the intact shaft.
  double callusLineMarginMm = 1.5;
  /// Callus density is solved per column (s, theta) from the mass and the
  /// peak of its excess over the intact shaft and the measured blur, in
  /// columns with at least this mass (HU x mm: 0.2 mm of the least dense
  /// woven callus, 300 HU) and a peak above callusExcessHu...
  double callusDensityMinMassHuMm = 60;
  /// ... and no denser than cortical bone (DESIGN.md: 1200-2000 HU).
  double callusDensityMaxHu = 2000;
  /// ... per cortex when at least this many columns tell (every other slice
  /// and degree is solved: about 10 mm2 of callus surface); otherwise all
  /// cortices' columns together...
  int callusDensityMinColumns = 20;
  /// ... and with none at all the middle of woven callus' density range
  /// (300-1000 HU, DESIGN.md).
  double callusDensityFallbackHu = 600;
  /// A sample's share of callus is kept within +-this: a share far above 1
  /// is an artefact (streaks), not denser callus; noise around 0 and 1 must
  /// not be cut, or it biases the sum.
  double callusShareLimit = 3;
  /// Callus hidden by metal (a screw across the cortex) is interpolated
  /// along the shaft from the visible callus on either side, across at most
  /// this length: a screw with its margin (4-6 mm + 2 x metalMarginMm), not
  /// a plate.
  double callusHiddenFillMm = 12;
  /// Angular resolution of the bridging map.
  double angularBinDeg = 5;
  /// A user hint: a point on the fracture in patient coordinates (LPS, mm).
  std::optional<std::array<double, 3>> fractureHint;
  /// Also return CtAnalysisResult::labels (costs one byte per CT voxel and a
  /// pass over the volume): for DICOM SEG export and for checking the callus.
  bool produceLabelMap = false;
};

/// Values of CtAnalysisResult::labels. Where two apply, the higher one wins.
enum CtLabel : std::uint8_t {
  kLabelBackground = 0,
  kLabelBone = 1,   ///< bone (boneThresholdHu up to metalThresholdHu), not callus
  kLabelCallus = 2, ///< the callus counted in callusVolumeMm3
  kLabelMetal = 3,  ///< at or above metalThresholdHu
};

struct CtCortexResult {
  CortexScore score;
  double callusVolumeMm3 = 0;
  int assessedBins = 0;
  int bridgedBins = 0;
};

/// The unrolled cortex: rows along the shaft (distal to proximal), columns
/// around it (angle bins), the peak tibial density of each ray. Used for the
/// picture that shows the reader why.
struct UnrolledCortexMap {
  int rows = 0;
  int columns = 0;
  double rowSpacingMm = 0;
  double firstRowMm = 0;                      ///< along the axis, relative to the fracture centre
  std::vector<float> peakHu;                  ///< rows x columns
  std::vector<double> fractureRow;            ///< per column: fracture line (fractional row)
  std::vector<signed char> bridgedColumns;    ///< per column: 1 bridged, 0 not, -1 not assessable
  std::array<double, 4> sectorCentreColumn{}; ///< indexed by Cortex
};

struct CtAnalysisResult {
  bool fractureFound = false;
  double fractureConfidence = 0;          ///< 0..1: share of angle bins with a clear dip
  std::array<double, 3> fractureCentre{}; ///< LPS mm
  std::array<double, 3> fractureNormal{};
  std::array<double, 3> shaftAxis{}; ///< unit, toward the head
  double gapWidthMm = 0;
  std::array<CtCortexResult, 4> cortices; ///< indexed by Cortex
  double callusVolumeMm3 = 0;
  /// The callus' own density (per cortex, solved with the measured blur),
  /// weighted by each cortex's callus volume.
  double callusMeanHu = 0;
  /// Callus density (HU) x volume (mm3), divided by 1000: an uncalibrated
  /// mineral content (no phantom calibration in the scan).
  double callusMineralContentUncalibrated = 0;
  /// Minimum density-weighted polar moment across the fracture zone, relative
  /// to the intact shaft (CT-based virtual torsion test surrogate).
  double torsionalRigidityRatio = 0;
  bool metalPresent = false;
  UnionScores scores;
  std::vector<std::string> notes;
  UnrolledCortexMap map;
  /// On the input CT's grid (CtLabel values), only when
  /// CtAnalysisParameters::produceLabelMap is set and a fracture was found.
  /// Callus comes from the callus measurement's own terms: per column
  /// (s, theta) around the shaft, the polar samples with the largest callus
  /// shares carry the column's measured volume (the remainder carried on
  /// along the cortex), so blur does not widen it and thin callus keeps its
  /// thickness. A voxel near the callus is callus by the share of it
  /// (2 x 2 x 2 sub-samples) whose nearest polar sample is callus, with the
  /// remainder carried along the row: callus voxels x voxel volume matches
  /// callusVolumeMm3 (on the test phantoms 0.3-1.7% above it).
  MaskImage::Pointer labels;
  /// Wall time of each stage, for benchmarks (never written to reports: it
  /// varies from run to run).
  std::vector<std::pair<std::string, double>> stageMilliseconds;

  [[nodiscard]] CortexScores cortexScores() const;
};

/// Throws std::runtime_error when the volume shows no long bone to analyse.
CtAnalysisResult analyzeCtUnion(const CtImage& ct, Laterality laterality,
                                const CtAnalysisParameters& parameters = {});

} // namespace unionscope
