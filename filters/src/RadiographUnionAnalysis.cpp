#include "unionscope/filters/RadiographUnionAnalysis.h"

#include "RadiographInternals.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace unionscope {

// The steps of the analysis (RadiographInternals.h), named one by one: a
// using-directive would make any later unionscope name that an internal
// shares ambiguous here.
using radiograph::addMetalRim;
using radiograph::bridgedBone;
using radiograph::callusEdges;
using radiograph::collimatorShutters;
using radiograph::CortexGapRows;
using radiograph::cortexGapRows;
using radiograph::faintBoneLevel;
using radiograph::faintBoneReach;
using radiograph::FilmRange;
using radiograph::findBone;
using radiograph::findMetal;
using radiograph::FractureCandidate;
using radiograph::grownWithin;
using radiograph::intactEdge;
using radiograph::Line;
using radiograph::locateFracture;
using radiograph::measureSide;
using radiograph::modelShaft;
using radiograph::nailInCanal;
using radiograph::rangeOf;
using radiograph::scoreSide;
using radiograph::ShaftFrame;
using radiograph::shaftFrame;
using radiograph::ShaftModel;
using radiograph::SideMeasure;
using radiograph::straighten;
using radiograph::Straightened;
using radiograph::TissueMaps;
using radiograph::tissueMaps;
using radiograph::toMat;

namespace {

std::array<double, 2> toOriginal(const cv::Point2d& working, double scale) {
  return {(working.x + 0.5) / scale - 0.5, (working.y + 0.5) / scale - 0.5};
}

/// "the lateral view shows the fracture plane 25 degrees off the
/// cross-section", followed by `rest`: what the other view's tilt means for
/// this one (the note and the withdrawal reason below).
std::string otherViewTilt(RadiographView otherView, double otherTiltDeg, const char* rest) {
  char text[240];
  std::snprintf(text, sizeof text,
                "the %s view shows the fracture plane %.0f degrees off the cross-section%s",
                otherView == RadiographView::AP ? "AP" : "lateral", otherTiltDeg, rest);
  return text;
}

/// The long bone's shaft on the working film, given the metal found on it
/// (`shutters` may be empty).
struct TracedShaft {
  bool boneFound = false; ///< an elongated bone was found
  Straightened st;
  std::optional<ShaftModel> model;
};

TracedShaft traceShaft(const cv::Mat& working, const FilmRange& film, const cv::Mat& shutters,
                       const TissueMaps& maps, const cv::Mat& metal,
                       const RadiographAnalysisParameters& p) {
  TracedShaft traced;
  const cv::Mat bone = findBone(maps, metal, p, true);
  const std::optional<ShaftFrame> frame = shaftFrame(working, bone, metal, p);
  if (!frame) {
    return traced;
  }
  traced.boneFound = true;
  // The metal that hides what lies under it: what the film shows at the
  // opaque level or above, with its blurred rim (within the metal).
  cv::Mat opaque = metal & (working >= film.low + p.metalOpaqueShare * (film.top - film.low));
  addMetalRim(opaque);
  opaque &= metal;
  // The strip along a frame, with the faint bone connected to the mask it
  // was found on (labelled within the strip's box only; `faintLevel` is
  // that mask's faintBoneLevel).
  const auto straightenedWithFaintBone = [&](const cv::Mat& mask, const ShaftFrame& found,
                                             double faintLevel) {
    std::vector<cv::Point2f> corners;
    for (double s : {found.sMin, found.sMax}) {
      for (double u : {-found.uHalf, found.uHalf}) {
        corners.emplace_back(found.point(s, u));
      }
    }
    const cv::Rect area = grownWithin(cv::boundingRect(corners), 1, mask.size());
    Straightened strip = straighten(working, mask, metal, found, opaque,
                                    faintBoneReach(maps, mask, faintLevel, area));
    strip.shutters = shutters;
    return strip;
  };
  // Both the faint bone and the bridging of a split mask take this level.
  const double faintLevel = faintBoneLevel(maps, bone, metal, p);
  Straightened& st = traced.st;
  std::optional<ShaftModel>& model = traced.model;
  st = straightenedWithFaintBone(bone, *frame, faintLevel);
  model = modelShaft(st, p);
  // A long bone's shaft is a fifth of its limb's width or more. Narrower
  // (or not found at all), the bone mask has split it (thin walls around a
  // dark canal, a cortex beside a nail not found as metal) and one strip
  // was taken for the shaft: its split is bridged, and the wider shaft
  // kept.
  if (!model || model->width < p.shaftMinLimbShare * 2.0 * maps.limbHalf) {
    const cv::Mat bridged = bridgedBone(maps, bone, faintLevel, p);
    if (const std::optional<ShaftFrame> wider = shaftFrame(working, bridged, metal, p)) {
      Straightened bridgedSt =
          straightenedWithFaintBone(bridged, *wider, faintBoneLevel(maps, bridged, metal, p));
      std::optional<ShaftModel> bridgedModel = modelShaft(bridgedSt, p);
      if (bridgedModel && (!model || bridgedModel->width > model->width)) {
        st = std::move(bridgedSt);
        model = std::move(bridgedModel);
      }
    }
  }
  return traced;
}

} // namespace

std::optional<std::string> obliqueToBeamNote(RadiographView otherView, double otherTiltDeg,
                                             const RadiographAnalysisParameters& p) {
  if (!(otherTiltDeg >= p.obliqueToBeamNoteDeg) || otherView == RadiographView::Unknown) {
    return std::nullopt;
  }
  return otherViewTilt(otherView, otherTiltDeg,
                       ": on this view its gap is not seen in profile, and a cleft cortex can "
                       "read as bridged");
}

bool withdrawSmearedBridging(RadiographAnalysisResult& film, RadiographView otherView,
                             const RadiographAnalysisResult& other,
                             const RadiographAnalysisParameters& p) {
  if (!other.fractureFound || !(other.fractureTiltDeg >= p.smearedGapTiltDeg) ||
      otherView == RadiographView::Unknown) {
    return false;
  }
  // Both of the other view's cortices scored and cleft: its gap is seen.
  for (const RadiographSideResult& side : other.sides) {
    if (!side.cortex) {
      return false;
    }
    const CortexScore& score = other.cortices[static_cast<std::size_t>(*side.cortex)];
    if (!score.category || score.bridged()) {
      return false;
    }
  }
  const std::string reason =
      otherViewTilt(otherView, other.fractureTiltDeg,
                    " and both its cortices cleft: on this view the gap crosses the beam "
                    "obliquely, and a cleft cortex reads as bridged");
  bool withdrawn = false;
  for (RadiographSideResult& side : film.sides) {
    if (!side.cortex) {
      continue;
    }
    CortexScore& score = film.cortices[static_cast<std::size_t>(*side.cortex)];
    if (score.category && score.bridged()) {
      score.category.reset();
      score.notAssessable = reason;
      side.score = score;
      side.confidence = 0;
      withdrawn = true;
    }
  }
  if (withdrawn) {
    film.scores = computeUnionScores(film.cortices);
  }
  return withdrawn;
}

void withdrawSmearedBridgingInVisit(
    const std::vector<std::pair<RadiographView, RadiographAnalysisResult*>>& films,
    const RadiographAnalysisParameters& p) {
  std::vector<RadiographAnalysisResult> asAnalysed;
  asAnalysed.reserve(films.size());
  for (const auto& [view, film] : films) {
    asAnalysed.push_back(*film);
  }
  for (const auto& [view, film] : films) {
    if (view == RadiographView::Unknown) {
      continue;
    }
    for (std::size_t k = 0; k < films.size(); ++k) {
      const RadiographView otherView = films[k].first;
      if (otherView != view && otherView != RadiographView::Unknown) {
        withdrawSmearedBridging(*film, otherView, asAnalysed[k], p);
      }
    }
  }
}

std::array<std::optional<Cortex>, 2> cortexOfSides(RadiographView view,
                                                   RadiographOrientation orientation,
                                                   Laterality laterality,
                                                   std::vector<std::string>& notes) {
  std::array<std::optional<Cortex>, 2> sides;
  if (view == RadiographView::Unknown) {
    notes.emplace_back("view unknown (neither AP nor lateral): cortices not named");
    return sides;
  }
  char toward = orientation.columnsToward;
  if (view == RadiographView::AP) {
    if (toward != 'L' && toward != 'R') {
      toward = 'L';
      notes.emplace_back("patient orientation unknown: assumed the standard AP display "
                         "(patient's right on the image's left)");
    }
    // Medial points to the midline: patient left for a right limb.
    char medialToward = 'L';
    if (laterality == Laterality::Left) {
      medialToward = 'R';
    } else if (laterality == Laterality::Unknown) {
      notes.emplace_back("laterality unknown: medial and lateral assigned as for a right limb "
                         "(RUST, mRUST and union do not depend on it)");
    }
    const Cortex right = toward == medialToward ? Cortex::Medial : Cortex::Lateral;
    sides[1] = right;
    sides[0] = right == Cortex::Medial ? Cortex::Lateral : Cortex::Medial;
  } else {
    if (toward != 'A' && toward != 'P') {
      toward = 'P';
      notes.emplace_back("patient orientation unknown: assumed anterior on the image's left");
    }
    sides[1] = toward == 'P' ? Cortex::Posterior : Cortex::Anterior;
    sides[0] = toward == 'P' ? Cortex::Anterior : Cortex::Posterior;
  }
  return sides;
}

RadiographAnalysisResult analyzeRadiographUnion(const RadiographImage& image, double pixelSpacingMm,
                                                RadiographView view,
                                                RadiographOrientation orientation,
                                                Laterality laterality,
                                                const RadiographAnalysisParameters& p) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  if (size[0] < 32 || size[1] < 32) {
    throw std::runtime_error("radiograph too small to analyse (under 32 pixels across)");
  }
  RadiographAnalysisResult result;
  const std::array<std::optional<Cortex>, 2> sideCortex =
      cortexOfSides(view, orientation, laterality, result.notes);
  const auto notShown = [&](Cortex cortex, const std::string& reason) {
    CortexScore& score = result.cortices[static_cast<std::size_t>(cortex)];
    score.category.reset();
    score.notAssessable = reason;
  };
  for (Cortex cortex : kAllCortices) {
    const bool shown = sideCortex[0] == cortex || sideCortex[1] == cortex;
    notShown(cortex, shown ? "not analysed" : "not shown on this view");
  }
  for (std::size_t side = 0; side < 2; ++side) {
    result.sides[side].cortex = sideCortex[side];
  }

  const cv::Mat original = toMat(image);
  const double scale = std::min(1.0, static_cast<double>(p.workingLongSide) /
                                         static_cast<double>(std::max(size[0], size[1])));
  cv::Mat working;
  cv::resize(original, working, cv::Size(), scale, scale, cv::INTER_AREA);
  const double workingSpacing = pixelSpacingMm > 0 ? pixelSpacingMm / scale : 0.0;
  // Collimator shutters are unexposed film, not tissue: they take the level
  // of the exposed field's air, so that the body, the limb's width, the
  // film's range and the bone are found on the field alone.
  FilmRange film = rangeOf(working, cv::Mat());
  const cv::Mat shutters = collimatorShutters(working, film, p);
  if (!shutters.empty()) {
    working.setTo(rangeOf(working, shutters == 0).low, shutters);
    film = rangeOf(working, cv::Mat());
    result.notes.push_back("collimator shutters along the film's edges left out");
  }

  const TissueMaps maps = tissueMaps(working, p);
  cv::Mat metal = findMetal(working, film, maps, p);
  const auto fail = [&](const std::string& reason) {
    result.notes.push_back(reason);
    for (std::size_t side = 0; side < 2; ++side) {
      if (sideCortex[side]) {
        notShown(*sideCortex[side], reason);
        result.sides[side].score = result.cortices[static_cast<std::size_t>(*sideCortex[side])];
      }
    }
    result.scores = computeUnionScores(result.cortices);
    return result;
  };
  TracedShaft traced = traceShaft(working, film, shutters, maps, metal, p);
  // A nail the metal levels missed shows down the traced shaft's middle;
  // taken as metal, the shaft is traced again around it.
  if (traced.model) {
    const cv::Mat nail = nailInCanal(working, metal, traced.st, *traced.model, p);
    if (!nail.empty()) {
      cv::Mat withNail = metal | nail;
      TracedShaft again = traceShaft(working, film, shutters, maps, withNail, p);
      if (again.model) {
        metal = std::move(withNail);
        traced = std::move(again);
        result.notes.push_back("an intramedullary nail found down the shaft's canal (dimmer than "
                               "the metal levels)");
      }
    }
  }
  result.metalPresent = cv::countNonZero(metal) > 0;
  if (result.metalPresent) {
    std::vector<std::vector<cv::Point>> contours;
    cv::findContours(metal.clone(), contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
    for (const auto& contour : contours) {
      PixelPolyline line;
      for (const cv::Point& q : contour) {
        line.push_back(toOriginal(cv::Point2d(q.x, q.y), scale));
      }
      result.metalOutlines.push_back(std::move(line));
    }
  }
  if (!traced.boneFound) {
    return fail("no long bone found");
  }
  if (!traced.model) {
    return fail("no long-bone shaft found");
  }
  const Straightened& st = traced.st;
  const std::optional<ShaftModel>& model = traced.model;
  result.boneFound = true;
  result.shaftWidthPixels = model->width / scale;
  result.shaftWidthMm = workingSpacing > 0 ? model->width * workingSpacing : 0.0;
  result.shaftAxis = {toOriginal(st.working(model->firstShaftRow, st.frame.uHalf), scale),
                      toOriginal(st.working(model->lastShaftRow, st.frame.uHalf), scale)};

  const std::array<std::vector<double>, 2> callus = callusEdges(st, *model, p);
  const FractureCandidate fracture = locateFracture(st, *model, callus, p);
  for (int side = 0; side < 2; ++side) {
    PixelPolyline& edge = result.outerEdges[static_cast<std::size_t>(side)];
    for (int i = model->firstShaftRow; i <= model->lastShaftRow; i += 2) {
      const auto k = static_cast<std::size_t>(i);
      const double column = side == 0 ? model->edges.left[k] : model->edges.right[k];
      edge.push_back(toOriginal(st.working(i, column), scale));
    }
  }
  result.fractureEvidence = fracture.score;
  // A fracture the film's implant fixes is known to lie where the implant
  // holds the bone: less evidence finds it there.
  const bool withinFixation = model->fixed && model->fixed->contains(fracture.row);
  const double minEvidence = withinFixation ? p.fixedFractureMinEvidence : p.fractureMinEvidence;
  if (fracture.score < minEvidence) {
    return fail("no fracture line visible along the shaft (remodelled, or outside the image)");
  }
  result.fractureFound = true;
  result.fractureConfidence = fracture.confidence;
  const double l = fracture.left;
  const double r = fracture.right;
  const double c = 0.5 * (l + r);
  std::array<double, 2> gapRows{}, gapColumns{};

  const double pixelArea = workingSpacing * workingSpacing;
  for (int side = 0; side < 2; ++side) {
    // Each cortex measured at its own gap, near the line across the shaft.
    const double sideColumn = side == 0 ? l : r;
    const Line edge = intactEdge(*model, side, fracture.row);
    const CortexGapRows gap =
        cortexGapRows(st, *model, edge, side, fracture.row + fracture.slope * (sideColumn - c), p);
    gapRows[static_cast<std::size_t>(side)] = gap.atEdge;
    gapColumns[static_cast<std::size_t>(side)] = edge.at(gap.atEdge);
    const SideMeasure m = measureSide(st, *model, edge, gap.inBand, fracture.slope, side, p);
    RadiographSideResult& out = result.sides[static_cast<std::size_t>(side)];
    out.cortex = sideCortex[static_cast<std::size_t>(side)];
    out.bridgingContrast = m.bridging;
    out.lineContrast = m.line;
    out.callusThickness = m.callusThickness;
    out.callusAreaMm2 = m.callusPixels * pixelArea;
    out.metalCover = m.metalCover;
    out.collarContrast = m.collarLevel;
    out.collarAtGapContrast = m.collarAtGap;
    out.score = scoreSide(m, p, out.confidence);
    out.confidence *= 0.5 + 0.5 * fracture.confidence;
    for (const cv::Point2d& q : m.callusOutline) {
      result.callusOutline[static_cast<std::size_t>(side)].push_back(
          toOriginal(st.working(q.x, q.y), scale));
    }
    if (out.cortex) {
      result.cortices[static_cast<std::size_t>(*out.cortex)] = out.score;
    }
  }
  // The line as each cortex shows it: from one side's gap to the other's.
  result.fractureLine = {toOriginal(st.working(gapRows[0], gapColumns[0]), scale),
                         toOriginal(st.working(gapRows[1], gapColumns[1]), scale)};
  result.fractureTiltDeg = std::atan2(std::abs(gapRows[1] - gapRows[0]),
                                      std::max(1e-9, std::abs(gapColumns[1] - gapColumns[0]))) *
                           180.0 / M_PI;
  result.scores = computeUnionScores(result.cortices);
  return result;
}

} // namespace unionscope
