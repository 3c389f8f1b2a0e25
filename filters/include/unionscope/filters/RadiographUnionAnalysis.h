#pragma once
// Radiograph union analysis: from one AP or lateral radiograph (bone bright,
// pixel spacing when known) to the two cortices the view shows, the fracture
// line, the callus and a modified-RUST category per cortex. Images in,
// measurements out: no files, no DICOM.
//
// Method, in one paragraph. Bone is what stands out of its surroundings
// (a white top-hat whose size follows the image), metal is the saturated,
// sharply bounded brightest tissue. The bone of interest is the widest
// elongated bone; its shaft axis is a robust line through the midpoints of
// its cross-sections, and the image is resampled along that axis (s down
// the shaft, u across it). Per row of that straightened image the two outer
// cortical edges and the cortical bands inside them are found. The fracture
// is where the cortices lose continuity: a dark line across the bone (a
// valley of the along-shaft profile) together with a step of the edges,
// searched on the diaphysis only (joint lines are not fractures). Callus is
// bone outside the line joining the intact outer edges above and below the
// fracture. A cortex is bridged when a bright path crosses the fracture zone
// through the cortex or its callus (a max-min path, so oblique and partial
// bridges count); the fracture line stays visible while the cortex still dips
// along it.

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/filters/ImageTypes.h"
#include "unionscope/filters/Scores.h"

#include <array>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace unionscope {

enum class RadiographView { AP, Lateral, Unknown };

/// Where the image's columns point in the patient (DICOM Patient
/// Orientation, first value): 'L', 'R', 'A', 'P', or 0 when unknown.
struct RadiographOrientation {
  char columnsToward = 0;
};

/// Every threshold of the radiograph analysis, with its default and source.
struct RadiographAnalysisParameters {
  /// Working resolution: the image is resampled so that its longer side has
  /// at most this many pixels. 640 keeps a 25 mm shaft at 40+ pixels on a
  /// 43 cm cassette, enough for cortices, and makes the analysis cost
  /// independent of the detector's resolution.
  int workingLongSide = 640;
  /// Bone stands out of soft tissue by a local contrast: a white top-hat by
  /// a disc of this radius, as a share of the limb's half-width. A long bone
  /// is under half its limb's width (femur 25-30 mm in a 120-160 mm thigh,
  /// tibia 20-25 mm in a 90-110 mm leg, radius 12-15 mm in a 60 mm forearm),
  /// so the disc fits inside the limb but not inside the bone, and an
  /// eccentric bone (the tibia under its subcutaneous border, a plate's
  /// side) needs the disc well wider than itself. (0.8 while the body mask
  /// was often only the bone and the thickest soft tissue, so the limb's
  /// half-width was measured short; with the limb measured to its skin, 0.5
  /// keeps the phantoms where they were and reads real films better.)
  double topHatShare = 0.5;
  /// Collimator shutters: the film's unexposed bands along its edges (a
  /// computed radiograph collimated to the limb shows them at the top of
  /// the range, with the blade's penumbra and scatter falling off toward
  /// the exposed field). They are no anatomy: taken for tissue, they made
  /// the limb as wide as the film and the whole leg bone (NEMA WG04 RG3).
  /// A line of pixels from the film's edge starts in one when it starts at
  /// this share of the range or above ...
  double shutterMinStartShare = 0.85;
  /// ... and falls, never turning up by more than this share of the range
  /// (noise, after a one-pixel blur), ...
  double shutterNoiseShare = 0.02;
  /// ... by at least this share of the range, into the exposed field. An
  /// edge has a shutter when at least shutterMinEdgeShare of its lines start
  /// in one at least shutterMinDepthShare of the film deep (a bone or a
  /// marker cut by the film's edge covers a short stretch of it). The
  /// shutter is given the level of the field's air before anything else is
  /// looked for.
  double shutterMinDropShare = 0.3;
  double shutterMinEdgeShare = 0.5;
  double shutterMinDepthShare = 0.01;
  /// A long bone with its local contrast is well over a fifth of its limb's
  /// tissue (phantoms 0.24-0.55, real films 0.22-0.64). A bone level whose
  /// bright class holds less was taken by something brighter than the bone
  /// (the heel, a cast's rim, a label strip; real films 0.09-0.13) ...
  double boneMinShare = 0.2;
  /// ... and is found again on the histogram clipped at this percentile of
  /// the tissue's contrast, so that everything brighter than the bone
  /// saturates together with it.
  double boneContrastClip = 0.85;
  /// Metal candidates: above this share of the range between the background
  /// and the brightest pixels. Implants are the most attenuating objects on
  /// a limb radiograph; thick bone reaches this level only in places.
  double metalShareOfMax = 0.75;
  /// ... and standing above the tissue in a thin ring around them by this
  /// share of the range: metal steps down to bone or soft tissue, bright bone
  /// fades into the bone around it.
  double metalRingContrast = 0.12;
  /// A plate seen en face (a lateral film of a plate on the lateral
  /// cortex) lies over the bone: the ring around it is bone, and on a
  /// thin-walled phantom shaft it stands only 0.081-0.108 of the range
  /// above it. A candidate is kept at this lower ring contrast when it is
  /// as large as a plate (plateEnFaceMinAreaShare of the film: ten times
  /// implantMinAreaShare), elongated (implantMinElongation) and its border
  /// steps down by plateEnFaceMinSharpness: the step from the plate to
  /// the bone is only part of its drop to the soft tissue a ring further
  /// out (0.41-0.51 on those films). Such a candidate still has to pass
  /// the brightness test against the bone (metalAboveBone). No FracAtlas
  /// candidate is that large and that faint.
  double plateEnFaceRingContrast = 0.08;
  double plateEnFaceMinAreaShare = 7e-3;
  double plateEnFaceMinSharpness = 0.4;
  /// ... and flat: their spread within this share of the range. Bright bone
  /// (the tarsus, a doubled-over metaphysis) keeps its trabecular texture.
  double metalFlatness = 0.05;
  /// ... or, where it varies smoothly (a hollow nail's walls, a plate's
  /// holes), its fine texture (what a 1.5-pixel blur removes) within this
  /// share of the range. Noise is part of that texture: a phantom nail
  /// measures 0.0125 when the film is downsampled to the working size and
  /// 0.0145-0.0155 at its own 0.3 mm pixels; the bone candidates that
  /// fail the spread test on FracAtlas mostly measure under 0.015 already,
  /// so brightness, not texture, keeps them out there.
  double metalTexture = 0.018;
  /// ... and brighter than the typical bone by this share of the bone's
  /// contrast over soft tissue: steel and titanium attenuate several times
  /// more than cortex, so even a windowed 8-bit export keeps them well above
  /// the bone's median.
  double metalAboveBone = 0.5;
  /// A candidate that fails that level may still hold metal: its compact
  /// parts above the level (shorter than implantMinElongation) that step
  /// up from the ring around them by this share of the bone's contrast
  /// over soft tissue. A screw head joined to a plate seen en face (phantom
  /// lateral films: 0.22-0.43) is one; the brightest ridges of a dense
  /// cortex fade into the cortex around them (under 0.12 on a narrow
  /// phantom shaft).
  double metalCoreStep = 0.2;
  /// Metal hides the cortex under it (metalCoverShare) only where the film
  /// shows it at or above this share of its range (air to the 99.95th
  /// percentile), with the blurred rim around that part: steel saturates,
  /// while a plate seen en face that stands below its saturated screws
  /// (phantom lateral films: 0.7-0.85) lets the cortex's profile through.
  /// Any share from 0.9 to 0.98 gives the same phantom results.
  double metalOpaqueShare = 0.9;
  /// The second look (screws next to the plate or nail found first) is
  /// skipped when its soft-tissue level falls under this share of the
  /// first look's: its bone mask then holds the whole limb (phantoms:
  /// 0.44-1.0 normally, under 0.03 when it does).
  double metalSoftLevelKept = 0.25;
  /// A candidate below metalAboveBone is still an implant when it is shaped
  /// like one: a plate's or a nail's projection is a long bar (its smallest
  /// enclosing rectangle this many times longer than wide; bone ends and
  /// condyles are not) ...
  double implantMinElongation = 3.0;
  /// Implant-shaped candidates are also looked for above this lower share
  /// of the range: a nail beside a plate, or under a brighter bone end, on
  /// a windowed export (FracAtlas nails 0.65-0.75).
  double implantShareOfMax = 0.6;
  /// ... where only what is narrower than this share of the limb's
  /// half-width counts (a tibial nail is about 0.2 of it, the bone end it
  /// joins at that level far wider).
  double implantMaxWidthShare = 0.35;
  /// ... standing this share of the range above the ring around it (bone,
  /// for a nail: FracAtlas 0.20-0.28), with at least this share of that
  /// ring inside the body.
  double nailRingContrast = 0.18;
  double nailMinBodyShare = 0.9;
  /// ... and with bone in at least this share of a band a quarter to 0.6
  /// of its width outside it (FracAtlas nails 0.22-0.60; a thin, dense
  /// phantom shaft, 0).
  double nailMinBoneBeside = 0.15;
  /// ... of at least this share of the image (a plate or nail segment, not
  /// a screw tip or a sesamoid) ...
  double implantMinAreaShare = 7e-4;
  /// ... standing this share of the range above the tissue around it ...
  double implantRingContrast = 0.3;
  /// ... and whose border steps down sharply: the drop just outside the
  /// border is at least this share of the drop a ring further out. On the
  /// FracAtlas films plates and nails measure 0.70-0.95, the large bright
  /// bone candidates (tarsus, condyles, heel) 0.3-0.65.
  double implantMinSharpness = 0.68;
  /// Metal candidates of either kind lie inside the limb: at least this
  /// share of the ring around them is tissue (brighter than
  /// implantTissueShare of the range above the background), not air. Lead
  /// markers and labels lie in air beside the limb.
  double implantMinLimbShare = 0.6;
  double implantTissueShare = 0.15;
  /// ... except an external fixator: a large component (implantMinAreaShare
  /// of the film or more) with at least this share of its ring in the limb
  /// (its frame stands in the air, its pins run into the bone)...
  double fixatorMinLimbShare = 0.2;
  /// ... and with bone in at least this share of a band just beyond its
  /// blurred rim (where its pins enter the bone). A label in the air has
  /// none; a bright strip between two exposures of one film can have more
  /// (FracAtlas 0003: 0.29, against 0.09 and 0.22 for a painted fixator).
  double fixatorMinBoneBeyond = 0.05;
  /// Metal joins the bone mask (a nail in the canal, a plate on the cortex)
  /// only within this many limb half-widths of the limb's tissue: a
  /// fixator's frame in the air beside the limb is no bone.
  double metalInLimbReach = 0.25;
  /// A long candidate that passes only by brightness, runs within this many
  /// degrees of an implant-shaped one and touches it within half that
  /// implant's width is the cortex beside a nail seen edge-on, not metal.
  double cortexStripMaxTurnDeg = 10.0;
  /// Metal components smaller than this (pixels at working resolution) are
  /// noise or text markers' specks.
  int metalMinPixels = 12;
  /// Metal may cross the film's edge (a nail, a long plate) over at most
  /// this share of the edge's length; more is a border or a board.
  double metalMaxEdgeShare = 0.15;
  /// A nail the levels miss (its candidate joined bright soft tissue, a
  /// bone end or the film's edge: FracAtlas 0467, a femur in a thick
  /// thigh) is looked for down the traced shaft (see nailInCanal): the
  /// middle 30% of the shaft's profile across stands this share of the
  /// cortex's contrast above the brightest of its outer quarters (0467's
  /// nail 0.25; another bone across the shaft at most 0.11: a forearm's
  /// lateral film 0.11, a fibula over the tibia 0.06-0.10; a shaft without
  /// one shows its cortices brightest, below 0.01) ...
  double canalNailMinStep = 0.18;
  /// ... varying across the middle by at most this share of that step (a
  /// nail is flat: 0467 0.15; bones across the shaft 0.70-0.95) ...
  double canalNailMaxUnevenness = 0.5;
  /// ... on at least this share of the shaft rows.
  double canalNailMinRowShare = 0.6;
  /// A long bone's shaft is at least this share of its limb's width (the
  /// limb measured at its widest: tibia 0.2-0.3, femur 0.16-0.25, radius
  /// 0.2-0.25; the phantoms 0.33-0.46). A narrower shaft is one strip of a
  /// split bone mask (phantom films with 2.5 mm walls or an 8 mm radius:
  /// 0.06-0.14; lateral legs on FracAtlas: the anterior cortex or the
  /// fibula, 0.11-0.15), and the shaft is looked for again on the mask with
  /// its splits bridged (closed by a disc of boneBridgeLimbShare of the
  /// limb's half-width where the local contrast stays boneBridgeLevel of
  /// the bone's above soft tissue). The wider shaft is kept.
  double shaftMinLimbShare = 0.2;
  double boneBridgeLimbShare = 0.4;
  double boneBridgeLevel = 0.3;
  /// The analysed shaft runs on while the bone's width stays within this
  /// factor of the diaphysis' width: far enough into the metaphysis for
  /// distal-third fractures, not into the joint (joint lines are not
  /// fractures).
  double shaftFlareFactor = 2.0;
  /// Where the film's edge cuts the shaft, the analysed shaft stops this
  /// many shaft widths short of it (the line evidence compares windows up
  /// to 0.8 widths along the shaft; past the edge they would see the
  /// border).
  double filmEdgeMarginWidths = 1.0;
  /// The fracture line is also searched beyond the diaphysis, into each
  /// metaphysis while the bone stays under this factor of the diaphysis'
  /// width (distal tibia and radius fractures lie there)...
  double metaphysisFlareFactor = 3.0;
  /// ...stopping this many shaft widths short of where the bone ends or
  /// flares further: the joint line is not a fracture.
  double jointMarginWidths = 1.0;
  /// A metaphysis' thin cortex and trabecular bone can stand too little
  /// above the soft tissue for the bone mask (distal radius), whose width
  /// then ends or breaks up early. The faint bone connected to the bone
  /// (local contrast boneBridgeLevel of the bone's above soft tissue) also
  /// carries the search on, while its width stays under
  /// faintBoneFlareFactor of its width along the diaphysis: it takes in
  /// the joint's other bones too, so it is held to a tighter flare than
  /// the bone mask (the distal tibia flares to about twice the shaft's
  /// width before its joint). 0 turns it off.
  double faintBoneFlareFactor = 2.0;
  /// Line evidence in the metaphysis is weighted by this share: trabecular
  /// texture shows faint lines too, so a shaft line wins a close call.
  double metaphysisEvidenceWeight = 0.8;
  /// An implant fixing the bone (a metal component running along the shaft
  /// for at least implantSpanMinLengthWidths shaft widths, with
  /// implantOnBoneMinShare of its pixels over the bone or within
  /// implantSpanBoneReachWidths of its edges, and reaching a
  /// shaft width into the searched rows) spans the fracture, which lies
  /// more than fixationEndZoneWidths from the implant's ends (a plate's
  /// outermost screws, a nail's tip): the search reaches that far (keeping
  /// filmEdgeMarginWidths from the film's edge), and line evidence beyond
  /// is weighted by beyondFixationEvidenceWeight: by default 0, no line is
  /// taken there (the implant's ends and the joints show lines there, the
  /// fracture it fixes does not lie there).
  double implantSpanMinLengthWidths = 2.0;
  double implantSpanBoneReachWidths = 0.5;
  double implantOnBoneMinShare = 0.5;
  /// Two metal pieces, one beginning within this many rows (pixels at
  /// working resolution, along the shaft) of where the other ends and
  /// across the same columns, are one implant the metal mask split (a nail
  /// where the fracture's fragments cross it) when its span is measured.
  int implantSeamMaxPixels = 2;
  /// The bone such an implant fixes is the bone of interest: where the
  /// widest long bone's component holds a bar-shaped implant running within
  /// this many degrees of its axis and the shaft traced there does not hold
  /// it (a plated radius beside the ulna), the shaft is traced along the
  /// implant instead, if that one holds it.
  double fixationMaxTurnDeg = 20.0;
  double fixationEndZoneWidths = 1.0;
  double beyondFixationEvidenceWeight = 0.0;
  /// The fracture line is not looked for in pixels denser than the intact
  /// cortex by this share of its contrast: metal the metal mask missed
  /// (screws across thin bone: the line landed on them) and bones
  /// overlapping at a joint (the tibia over the talus on a lateral ankle
  /// film: the joint line won). The line search treats them as metal (the
  /// per-cortex gap, once the line is found, reads them as they are).
  double lineHiddenDensity = 0.2;
  /// A line's dark-line evidence is its mean across the shaft, or, when
  /// larger, the weaker of its means over the two edge bands of this share
  /// of the width (an oblique fracture seen obliquely is an ellipse whose
  /// arcs leave the line in the middle but cut both profile cortices on
  /// it).
  double fractureEdgeBandShare = 0.25;
  /// The line is looked for across the bone's span from its edges' median
  /// course over this many shaft widths either side of the row (0: the
  /// row's own edges), not the row's traced edges: they dive into the notch
  /// a gap leaves in the cortex.
  double fractureSpanWindowWidths = 0.5;
  /// A fracture line needs at least this much evidence: the mean dark-line
  /// and along-shaft change across the bone, in shares of the cortex's
  /// contrast. An intact shaft scores a few hundredths (noise, nutrient
  /// canals); a visible line several tenths; a line half filled with callus
  /// (a delayed union at 12 weeks), or seen only beside a plate or a nail,
  /// 0.045-0.08. Below it the film's cortices are not assessable. How far
  /// the line stands above the rest of the shaft is its confidence, which
  /// discounts the cortices' (0.08 with a faint line kept only when
  /// nothing a shaft width away reached 0.3 of it: those films abstained,
  /// and their visits' union went undecided; see
  /// docs/radiograph-analysis.md).
  double fractureMinEvidence = 0.045;
  /// ... and this much where an implant holds the bone (fixationEndZoneWidths):
  /// the fracture it fixes is known to lie there, so a fainter line is
  /// taken as it rather than the film's cortices left unassessed. FracAtlas
  /// 2791 (a distal tibial nail, 0.038 inside its box) is found; on the
  /// phantoms only the 45-degree oblique fractures move (0.025 / 0.03 /
  /// 0.035: 137 / 135 / 130 cortices scored, union 0.756 / 0.733 / 0.711;
  /// 0.689 at 0.045). Lower, a line would be taken from the noise of a
  /// healed shaft (a few hundredths).
  double fixedFractureMinEvidence = 0.03;
  /// Each cortex's own gap (the deepest dip of its band along the shaft) is
  /// looked for within cortexGapWindowWidths shaft widths of where the line
  /// meets that cortex. Where no dip of cortexGapMinDip of the cortex's
  /// contrast lies there, a dip that deep is looked for up to
  /// cortexGapFarWindowWidths: an oblique cleft seen obliquely shows as an
  /// ellipse, found as a flat line through its middle, and crosses the two
  /// profile cortices up to a shaft width apart along the shaft. Phantom
  /// lines within 3 mm: 45 degrees 32 -> 37 (agreement 0.704 -> 0.722, union
  /// 0.733 -> 0.756), default 79 -> 80 (agreement 0.864 -> 0.870); radius
  /// 14 mm 69 -> 68 and one visit lost (see the test's guard). Searched that
  /// far always, the default cohort lost two visits' union.
  double cortexGapWindowWidths = 0.5;
  double cortexGapFarWindowWidths = 0.75;
  double cortexGapMinDip = 0.03;
  /// Half-height of the fracture zone searched for bridging, in shaft
  /// widths: enough for an oblique line across one cortex.
  double fractureZoneHalfWidths = 0.35;
  /// Bridged where no callus collar is seen (primary healing, a thin
  /// collar): the brightest path across the fracture zone keeps this share
  /// of the band's brightest level above and below the zone. A gap of
  /// fibrous tissue, even blurred by the projection of a slightly tilted
  /// fracture plane, loses a third or more; cortex grown across keeps nearly
  /// all.
  double bridgingContrast = 0.9;
  /// Fracture line still visible: the cortex along the line keeps less than
  /// this share of the intact cortex's contrast (modified RUST: category 4
  /// needs the line gone).
  double remodelledContrast = 0.95;
  /// Callus outline (drawn, and its area reported): outward from the
  /// intact cortex's edge while the image stays this share of the cortex's
  /// contrast above the soft tissue at the same distance from the shaft
  /// away from the fracture.
  double callusContrast = 0.15;
  /// The soft tissue the callus is compared with is taken 1.5-4 shaft
  /// widths from the gap. A short film (collimated to the fracture, or a
  /// wide bone on a small cassette) may not reach that far: the reference
  /// then moves in as far as the shaft reaches, but never nearer than this
  /// many widths (a periosteal collar tapers off within about half to
  /// three quarters of a width of the gap).
  double callusReferenceNearestWidths = 0.75;
  /// Callus present: the collar just outside the cortex beside the gap is
  /// denser than the soft tissue at the same distance from the shaft away
  /// from the fracture by this share of the cortex's contrast. Woven callus
  /// a few mm thick adds about a tenth or more, an early collar at six or
  /// twelve weeks 0.045-0.06; soft tissue alone, zero within noise (at most
  /// 0.03-0.04 on cortices without callus, on every phantom set). Any level
  /// from 0.04 to 0.05 scores the phantoms alike.
  double collarContrast = 0.045;
  /// Bridged: the collar keeps at least this share of its density across the
  /// gap (an unbridged collar is cleft there down to soft tissue).
  double collarBridgedShare = 0.5;
  /// ... its density at the gap being its lowest within this many shaft
  /// widths of the gap row (at least 2 pixels): the row is found in the
  /// middle of the cortex band, and an oblique cleft meets the collar
  /// outside it further along the shaft. The collar's reference rows start
  /// at 0.15 widths.
  double collarGapWindowWidths = 0.1;
  /// A cortex is not assessable when metal covers more than this share of
  /// its band across the fracture zone (a plate lying over its profile).
  double metalCoverShare = 0.5;
  /// ... or when a strip of metal runs along the cortex's profile (a plate
  /// seen edge-on) over more than this share of the rows around the
  /// fracture: the plate hides the cortex's outline and takes the place of
  /// the callus beside it. Screws cross the shaft and cover a few rows.
  double plateAlongsideShare = 0.8;
  /// One view's line this many degrees off the cross-section is the plane's
  /// tilt along the other view's beam: there its gap spreads over many rows
  /// at each profile cortex. On the phantom cohort, cortices whose other
  /// view shows 30 degrees or more agree with the truth on 5 of 15 (7 of
  /// the 10 wrong called bridged), against 95 of 108 under 10 degrees; the
  /// other view's series gets a note (see obliqueToBeamNote).
  double obliqueToBeamNoteDeg = 30.0;
  /// When the other view shows the plane this many degrees off its
  /// cross-section and both its cortices cleft (scored, not bridged), this
  /// view's bridged readings are withdrawn (withdrawSmearedBridging): the
  /// gap crosses this view's beam obliquely and is spread over the rows of
  /// each profile cortex, so a cleft cortex and its collar read as
  /// continuous. On the phantom cohort the rule withdraws 7 cortices, all
  /// truly cleft (a hypertrophic nonunion's AP films, 309, where the
  /// lateral view shows the plane at 25-30 degrees); 10, 15 and 20 degrees
  /// withdraw the same.
  double smearedGapTiltDeg = 20.0;
};

/// One side of the bone in the straightened image (0: the image's left as
/// the shaft runs down, 1: its right).
struct RadiographSideResult {
  std::optional<Cortex> cortex; ///< which cortex this side is on this view
  CortexScore score;
  double confidence = 0;       ///< 0..1
  double bridgingContrast = 0; ///< brightest path across the zone, share of intact contrast
  double lineContrast = 0;     ///< cortex along the fracture line, share of intact contrast
  double callusThickness = 0;  ///< mean thickness outside the intact edge, share of shaft width
  double callusAreaMm2 = 0;    ///< 0 when pixel spacing is unknown
  double metalCover = 0;       ///< share of the cortex band covered by metal
  /// Callus collar outside the cortex beside the gap, and at the gap, above
  /// the soft tissue at the same distance from the shaft (contrast shares).
  double collarContrast = 0;
  double collarAtGapContrast = 0;
};

/// A polyline in original image pixels (column, row).
using PixelPolyline = std::vector<std::array<double, 2>>;

struct RadiographAnalysisResult {
  bool boneFound = false;
  bool fractureFound = false;
  double fractureConfidence = 0; ///< 0..1
  /// Strongest line evidence (see fractureMinEvidence and
  /// fixedFractureMinEvidence).
  double fractureEvidence = 0;
  /// The fracture line's angle to the shaft's cross-section, degrees (0:
  /// transverse); NaN without a line. On the other view of the visit this
  /// is the plane's tilt along that view's beam (see obliqueToBeamNote).
  double fractureTiltDeg = std::numeric_limits<double>::quiet_NaN();
  /// Fracture line between the two cortices, original pixels (column, row).
  std::array<std::array<double, 2>, 2> fractureLine{};
  std::array<std::array<double, 2>, 2> shaftAxis{}; ///< two points on the axis, original pixels
  double shaftWidthPixels = 0;                      ///< median diameter, original pixels
  double shaftWidthMm = 0;                          ///< 0 when pixel spacing is unknown
  std::array<RadiographSideResult, 2> sides;
  std::array<PixelPolyline, 2> outerEdges;    ///< per side, along the analysed shaft
  std::array<PixelPolyline, 2> callusOutline; ///< per side, near the fracture
  std::vector<PixelPolyline> metalOutlines;
  bool metalPresent = false;
  CortexScores cortices; ///< the view's two cortices; the others "not shown on this view"
  UnionScores scores;    ///< from this radiograph alone (two cortices: never a RUST sum)
  std::vector<std::string> notes;
};

/// Throws std::runtime_error when the image shows no long bone to analyse
/// (blank, too small, or no elongated bone).
RadiographAnalysisResult
analyzeRadiographUnion(const RadiographImage& image, double pixelSpacingMm, RadiographView view,
                       RadiographOrientation orientation, Laterality laterality,
                       const RadiographAnalysisParameters& parameters = {});

/// The note for a radiograph whose visit's other view (`otherView`) shows
/// the fracture line `otherTiltDeg` degrees off the cross-section, when
/// that is obliqueToBeamNoteDeg or more: the plane then runs obliquely
/// along this view's beam (docs/radiograph-analysis.md).
std::optional<std::string> obliqueToBeamNote(RadiographView otherView, double otherTiltDeg,
                                             const RadiographAnalysisParameters& parameters = {});

/// A visit's two views read together: when `other` (a film of `otherView`)
/// shows the fracture plane smearedGapTiltDeg or more off its cross-section
/// and scores both its cortices cleft, `film`'s cortices that read as
/// bridged become not assessable (the plane crosses this view's beam
/// obliquely and a cleft cortex reads as bridged), and its scores are
/// recomputed. Returns whether a cortex was withdrawn.
bool withdrawSmearedBridging(RadiographAnalysisResult& film, RadiographView otherView,
                             const RadiographAnalysisResult& other,
                             const RadiographAnalysisParameters& parameters = {});

/// withdrawSmearedBridging over all of a visit's films, each decided on the
/// other films as analysed (so the order of `films` does not matter, though
/// it orders the reasons when two films of the other view qualify: the
/// first one's is kept).
void withdrawSmearedBridgingInVisit(
    const std::vector<std::pair<RadiographView, RadiographAnalysisResult*>>& films,
    const RadiographAnalysisParameters& parameters = {});

/// The cortex on each side of the straightened image (side 0 is the side the
/// image's columns point away from), from view, orientation and laterality.
/// Empty when the view is unknown; medial/lateral need the laterality.
std::array<std::optional<Cortex>, 2> cortexOfSides(RadiographView view,
                                                   RadiographOrientation orientation,
                                                   Laterality laterality,
                                                   std::vector<std::string>& notes);

} // namespace unionscope
