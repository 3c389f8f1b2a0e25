// Internals of the radiograph analysis (RadiographUnionAnalysis.cpp), shared
// by its translation units: not installed, not part of the library's API.
#pragma once

#include "unionscope/filters/RadiographUnionAnalysis.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace unionscope::radiograph {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- Shared types ----

/// Least-squares line y = a + b x, refitted twice without points further than
/// 2.5 robust sigmas (at least minSigma): fragments, the fibula or a flare
/// must not pull it.
struct Line {
  double a = 0, b = 0;
  [[nodiscard]] double at(double x) const { return a + b * x; }
};

/// A mask's smallest enclosing rectangle as a bar: its long axis (radians,
/// modulo pi) through its centre, its length along that axis and its width
/// across it.
struct Bar {
  double angle = 0;
  double length = 0;
  double width = 0;
  cv::Point2d centre;
  /// Length over width (1 for fewer than three pixels).
  [[nodiscard]] double elongation() const {
    return length > 0 ? length / std::max(1.0, width) : 1.0;
  }
  /// How far `point` lies to the side of the axis.
  [[nodiscard]] double offAxis(const cv::Point2d& point) const {
    const cv::Point2d d = point - centre;
    return std::abs(d.x * std::sin(angle) - d.y * std::cos(angle));
  }
};

/// What the metal and bone searches share on one working image, each found
/// once: the body (the film without its air) and the local contrast (the
/// white top-hat sized by the limb).
struct TissueMaps {
  cv::Mat body;          ///< CV_8U
  cv::Mat contrast;      ///< CV_32F
  double limbHalf = 0.0; ///< limbHalfWidth of the body
};

/// The range of a film's pixels (within `mask`, or all when it is empty):
/// from the air (2nd percentile) to the brightest (99.95th percentile, so
/// that a few hot pixels do not set it).
struct FilmRange {
  double low = 0, top = 0;
};

/// The shaft frame in working pixels: s along the axis (toward increasing
/// rows), u across it (toward increasing columns when the shaft is upright).
struct ShaftFrame {
  cv::Point2d centre;
  cv::Point2d along;  ///< unit
  cv::Point2d across; ///< unit, along rotated toward +x
  double sMin = 0, sMax = 0;
  double uHalf = 0;

  [[nodiscard]] cv::Point2d point(double s, double u) const {
    return centre + along * s + across * u;
  }
  /// Sets the axis from a unit direction, pointed down the image (y >= 0)
  /// and `across` toward +x, so that the same bone always gives the same
  /// frame whatever direction it was found in.
  void setAlong(cv::Point2d direction) {
    if (direction.y < 0 || (direction.y == 0 && direction.x < 0)) {
      direction = -direction;
    }
    along = direction;
    across = {along.y, -along.x};
    if (across.x < 0) {
      across = -across;
    }
  }
};

/// Image resampled in the shaft frame: row i at s = sMin + i, column j at
/// u = j - uHalf.
struct Straightened {
  ShaftFrame frame;
  cv::Mat image;      ///< CV_32F; empty when only the masks were resampled
  cv::Mat bone;       ///< CV_8U
  cv::Mat metal;      ///< CV_8U
  cv::Size imageSize; ///< of the working image it was sampled from
  /// CV_8U, a subset of metal: the metal that hides what lies under it (see
  /// RadiographAnalysisParameters::metalOpaqueShare); empty while only the
  /// frame is being fitted.
  cv::Mat opaque;
  /// CV_8U: the faint bone connected to the bone (see faintBoneReach);
  /// empty while only the frame is being fitted.
  cv::Mat faint;
  /// CV_8U, of the working image's size: the collimator shutters (see
  /// collimatorShutters), outside the film's exposed field as much as what
  /// lies past its edges; empty when there are none.
  cv::Mat shutters;
  [[nodiscard]] int rows() const { return bone.rows; }
  [[nodiscard]] int cols() const { return bone.cols; }
  [[nodiscard]] double u(int column) const { return column - frame.uHalf; }
  [[nodiscard]] int column(double u) const {
    return static_cast<int>(std::lround(u + frame.uHalf));
  }
  [[nodiscard]] cv::Point2d working(double row, double column) const {
    return frame.point(frame.sMin + row, column - frame.uHalf);
  }
};

/// Per row: the bone run around the axis (outer edges), NaN where none.
struct Edges {
  std::vector<double> left, right; ///< column of the outer edge
  [[nodiscard]] double width(std::size_t i) const { return right[i] - left[i]; }
  /// Every row's width.
  [[nodiscard]] std::vector<double> widths() const {
    std::vector<double> out(left.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      out[i] = width(i);
    }
    return out;
  }
  [[nodiscard]] double mid(std::size_t i) const { return 0.5 * (left[i] + right[i]); }
};

/// Rows of the straightened shaft, first to last inclusive.
struct RowSpan {
  int first = 0, last = 0;
  [[nodiscard]] bool contains(double row) const { return row >= first && row <= last; }
};

/// What the straightened shaft shows: levels, edges, where the diaphysis is.
struct ShaftModel {
  Edges edges;       ///< bone-mask edges, filled across short gaps
  double width = 0;  ///< median shaft width (pixels)
  double soft = 0;   ///< soft tissue next to the bone
  double cortex = 0; ///< intact cortex
  int firstShaftRow = 0, lastShaftRow = 0;
  /// Rows searched for the fracture line: the shaft rows and the metaphyses
  /// beyond them, short of the joints, or as far as an implant holds the
  /// bone.
  int firstSearchRow = 0, lastSearchRow = 0;
  /// Where an implant fixing the bone holds it, short of the implant's ends
  /// (see fixedRows): the fracture lies there.
  std::optional<RowSpan> fixed;
  [[nodiscard]] double contrast() const { return std::max(1e-6, cortex - soft); }
};

struct FractureCandidate {
  double row = 0;   ///< where the line crosses the centre of its span
  double slope = 0; ///< rows per column
  /// The bone's span (columns) on that row the line was searched across.
  double left = 0, right = 0;
  double score = 0;
  double confidence = 0;
};

/// Where the fracture crosses one side's cortex.
struct CortexGapRows {
  /// Where the cleft dips the cortex band (the band's mean along the
  /// shaft): the row the cortex is measured at (measureSide).
  double inBand = 0;
  /// Where the cleft meets the bone's outer edge: the line's end. Along an
  /// oblique cleft, rows from inBand (half a band's width times the slope
  /// or more); the same where the band shows no dip.
  double atEdge = 0;
};

/// Bright-path test across the fracture zone on one side: the max-min path
/// from above the line to below it through the cortex band and its callus.
/// Returns the path's weakest level, and the cortex band's darkest row mean
/// along the line (how visible the line still is), both as contrast shares.
struct SideMeasure {
  double bridging = 0;
  double line = 0;
  double callusThickness = 0;
  double callusPixels = 0;
  double metalCover = 0;
  double plateAlongside = 0; ///< metal along the cortex's profile at the fracture (row share)
  double collarLevel = 0;    ///< callus excess beside the gap, contrast shares
  double collarAtGap = 0;    ///< callus excess at the gap, contrast shares
  std::vector<cv::Point2d> callusOutline; ///< straightened (row, column)
};

// ---- RadiographSupport.cpp ----

/// The median of the values that are not NaN; NaN when there are none.
double median(std::vector<double> v);

/// Order statistics of the image under the mask (all of it when empty), one
/// per share, from a single pass over the pixels; NaN when the mask is empty.
template <std::size_t N>
std::array<double, N> percentiles(const cv::Mat& image, const cv::Mat& mask,
                                  const std::array<double, N>& shares) {
  std::vector<float> values;
  values.reserve(mask.empty() ? image.total() : static_cast<std::size_t>(cv::countNonZero(mask)));
  for (int y = 0; y < image.rows; ++y) {
    const float* row = image.ptr<float>(y);
    const std::uint8_t* m = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < image.cols; ++x) {
      if (m == nullptr || m[x] != 0) {
        values.push_back(row[x]);
      }
    }
  }
  std::array<double, N> result{};
  for (std::size_t i = 0; i < N; ++i) {
    if (values.empty()) {
      result[i] = kNaN;
      continue;
    }
    const auto k = static_cast<std::size_t>(std::clamp(shares[i], 0.0, 1.0) * (values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
    result[i] = values[k];
  }
  return result;
}

/// One order statistic of the image under the mask (see percentiles).
double percentile(const cv::Mat& image, const cv::Mat& mask, double share);

std::optional<Line> robustLineFit(const std::vector<double>& x, const std::vector<double>& y,
                                  double minSigma = 1.0);

/// The ITK image as an OpenCV matrix (CV_32F), sharing no memory with it.
cv::Mat toMat(const RadiographImage& image);

/// How abruptly a component's border steps down: the drop from just inside
/// the border to just outside it, as a share of the drop out to `reach`
/// pixels away. Metal ends in a step (near 1); bright bone fades into the
/// bone and tissue around it (well under 1). Other candidates are left out
/// of the outside rings.
double borderSharpness(const cv::Mat& image, const cv::Mat& inside, const cv::Mat& others,
                       double reach);

/// The component's smallest enclosing rectangle as a bar.
Bar barOf(const cv::Mat& inside);

/// Length over width of the component's smallest enclosing rectangle.
double elongation(const cv::Mat& inside);

/// `mask` dilated by a disc of `radius` pixels.
cv::Mat dilatedByDisc(const cv::Mat& mask, int radius);

/// `rect` grown by `margin` on every side, within an image of `size`.
cv::Rect grownWithin(const cv::Rect& rect, int margin, const cv::Size& size);

/// Median-filters a profile along the shaft (NaN-aware).
std::vector<double> medianFiltered(const std::vector<double>& v, int halfWindow);

/// Linear interpolation across NaN runs; the ends keep the nearest value.
std::vector<double> filledGaps(std::vector<double> v);

// ---- RadiographTissue.cpp ----

/// The body, the limb's half-width and the local contrast of a film.
TissueMaps tissueMaps(const cv::Mat& image, const RadiographAnalysisParameters& p);

/// Bone: what stands out of the soft tissue by its local contrast. With
/// recoverBone, a bright class too small to be the bone is redone (see
/// withBoneRecovered); findMetal, which only takes the bone's median
/// brightness, keeps the plain level (recovered there too, the metal found
/// on two phantom patients changed and two more cortices went unassessed).
cv::Mat findBone(const TissueMaps& maps, const cv::Mat& metal,
                 const RadiographAnalysisParameters& p, bool recoverBone);

/// The level of faint bone in the local contrast: boneBridgeLevel of the
/// bone's contrast above the soft tissue's (medians over the body, metal
/// left out). NaN when either is missing.
double faintBoneLevel(const TissueMaps& maps, const cv::Mat& bone, const cv::Mat& metal,
                      const RadiographAnalysisParameters& p);

/// The bone mask with its splits bridged: closed by a disc of
/// boneBridgeLimbShare of the limb's half-width, where the local contrast
/// stays above `faintLevel` (faintBoneLevel of `bone`). The canal between
/// two thin walls, still bone in projection, is bridged; the soft tissue
/// between two bones is not.
cv::Mat bridgedBone(const TissueMaps& maps, const cv::Mat& bone, double faintLevel,
                    const RadiographAnalysisParameters& p);

/// The bone with the faint bone connected to it, within `area`: the local
/// contrast above `faintLevel` (faintBoneLevel of `bone`), in the
/// components that hold bone. A metaphysis' thin cortex and trabecular
/// bone stand less above the soft tissue than the shaft's cortex, and the
/// bone level often leaves them out; a faint region not touching the bone
/// (soft tissue, a cast's weave) is not taken. Outside `area` the mask is
/// empty.
cv::Mat faintBoneReach(const TissueMaps& maps, const cv::Mat& bone, double faintLevel,
                       const cv::Rect& area);

// ---- RadiographMetal.cpp ----

FilmRange rangeOf(const cv::Mat& image, const cv::Mat& mask);

/// The collimator shutters along the film's edges (CV_8U, 255 in them;
/// empty when there are none), `film` being the image's range: see
/// RadiographAnalysisParameters::shutterMinStartShare.
cv::Mat collimatorShutters(const cv::Mat& image, const FilmRange& film,
                           const RadiographAnalysisParameters& p);

/// `metal` with an implant's blurred rim (two pixels around it) added: the
/// rim is still metal, not an edge of the bone.
void addMetalRim(cv::Mat& metal);

/// Implants: candidates far brighter than the bone itself (bone found with
/// the candidates left out, so that a nail cannot pass for the bone), or
/// shaped like an implant. Brightness is the candidate's median: a screw
/// head saturates, but on a film with bright bone its blurred rim pulls
/// its mean under the level asked (phantom lateral films with a plate).
cv::Mat findMetal(const cv::Mat& image, const FilmRange& film, const TissueMaps& maps,
                  const RadiographAnalysisParameters& p);

// ---- RadiographShaft.cpp ----

/// The film resampled along the frame (rows down the shaft, columns across
/// it), with the masks given; the float image is left empty when `image` is.
Straightened straighten(const cv::Mat& image, const cv::Mat& bone, const cv::Mat& metal,
                        const ShaftFrame& frame, const cv::Mat& opaque = cv::Mat(),
                        const cv::Mat& faint = cv::Mat());

/// The shaft's frame on a bone mask: the largest elongated component's
/// axis, refined by the midpoints of its cross-sections. On a film with an
/// implant fixing a bone, that bone is the one of interest: when the
/// shaft found does not hold the implant (a plated forearm bone beside the
/// other), the frame refined from the implant's axis is taken if it does.
std::optional<ShaftFrame> shaftFrame(const cv::Mat& image, const cv::Mat& bone,
                                     const cv::Mat& metal, const RadiographAnalysisParameters& p);

/// The shaft's edges, width, levels and the rows searched for the fracture
/// on the straightened strip; none when no shaft is found on it.
std::optional<ShaftModel> modelShaft(const Straightened& st, const RadiographAnalysisParameters& p);

/// An intramedullary nail the metal levels missed (its level's candidate
/// joined bright soft tissue, a bone end or the film's edge), found where a
/// nail lies: the shaft's profile across, over the shaft rows without
/// metal, is flat down the middle and brighter there than the cortices
/// (canalNail* parameters). A long bone shows its cortices brightest (the
/// canal between them is darker); another bone across it has cortices of
/// its own and is not flat. Its pixels in the working image (`image`, with
/// the metal found before), followed past the shaft rows and the strip's
/// ends while a run of its width goes on; empty when there is none.
cv::Mat nailInCanal(const cv::Mat& image, const cv::Mat& metal, const Straightened& st,
                    const ShaftModel& m, const RadiographAnalysisParameters& p);

// ---- RadiographFracture.cpp ----

/// Outer edge per row at the callus threshold: walking outward from the
/// bone edge while tissue stays above the callus level (bounded).
std::array<std::vector<double>, 2> callusEdges(const Straightened& st, const ShaftModel& m,
                                               const RadiographAnalysisParameters& p);

/// The fracture line: the row and slope of the strongest line evidence in
/// the searched rows (none beyond an implant's hold), with its confidence.
FractureCandidate locateFracture(const Straightened& st, const ShaftModel& m,
                                 const std::array<std::vector<double>, 2>& callus,
                                 const RadiographAnalysisParameters& p);

// ---- RadiographCortex.cpp ----

/// The intact outer edge of one side: a robust line through the edge rows
/// away from the fracture, so callus the bone mask took in does not move it.
Line intactEdge(const ShaftModel& m, int side, double fractureRow);

/// This side's gap near where the line meets it (cortexGapWindowWidths) or,
/// with no dip of cortexGapMinDip there, a dip that deep further along the
/// shaft (cortexGapFarWindowWidths): an oblique cleft seen obliquely crosses
/// its two profile cortices up to a shaft width apart along the shaft,
/// further than the line through the middle reaches.
CortexGapRows cortexGapRows(const Straightened& st, const ShaftModel& m, const Line& edge, int side,
                            double expectedRow, const RadiographAnalysisParameters& p);

/// What one side's cortex shows at the fracture: its gap, callus, bridging
/// and the metal over it.
SideMeasure measureSide(const Straightened& st, const ShaftModel& m, const Line& edge,
                        double gapRow, double slope, int side,
                        const RadiographAnalysisParameters& p);

/// The side's category (or why it cannot be assessed) from its measures,
/// and the confidence of that category.
CortexScore scoreSide(const SideMeasure& m, const RadiographAnalysisParameters& p,
                      double& confidence);

} // namespace unionscope::radiograph
