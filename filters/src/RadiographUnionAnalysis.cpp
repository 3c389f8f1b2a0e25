#include "unionscope/filters/RadiographUnionAnalysis.h"

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace unionscope {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
/// Air and soft tissue are told apart when their means differ by this many
/// of the air's standard deviations (in 8-bit levels, at least one).
constexpr double kAirSeparation = 6.0;

double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) {
    return kNaN;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

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

double percentile(const cv::Mat& image, const cv::Mat& mask, double share) {
  return percentiles<1>(image, mask, {share})[0];
}

/// Least-squares line y = a + b x, refitted twice without points further than
/// 2.5 robust sigmas (at least minSigma): fragments, the fibula or a flare
/// must not pull it.
struct Line {
  double a = 0, b = 0;
  [[nodiscard]] double at(double x) const { return a + b * x; }
};
std::optional<Line> robustLineFit(const std::vector<double>& x, const std::vector<double>& y,
                                  double minSigma = 1.0) {
  std::vector<std::uint8_t> use(x.size(), 1);
  Line line;
  for (int pass = 0; pass < 3; ++pass) {
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (use[i] != 0U && !std::isnan(y[i])) {
        n += 1;
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
      }
    }
    const double det = n * sxx - sx * sx;
    if (n < 3 || std::abs(det) < 1e-9) {
      return std::nullopt;
    }
    line.b = (n * sxy - sx * sy) / det;
    line.a = (sy - line.b * sx) / n;
    std::vector<double> residuals;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isnan(y[i])) {
        residuals.push_back(std::abs(y[i] - line.at(x[i])));
      }
    }
    const double sigma = std::max(minSigma, 1.4826 * median(residuals));
    for (std::size_t i = 0; i < x.size(); ++i) {
      use[i] = !std::isnan(y[i]) && std::abs(y[i] - line.at(x[i])) <= 2.5 * sigma ? 1 : 0;
    }
  }
  return line;
}

cv::Mat toMat(const RadiographImage& image) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  const cv::Mat view(static_cast<int>(size[1]), static_cast<int>(size[0]), CV_32F,
                     const_cast<float*>(image.GetBufferPointer()));
  return view.clone();
}

/// How abruptly a component's border steps down: the drop from just inside
/// the border to just outside it, as a share of the drop out to `reach`
/// pixels away. Metal ends in a step (near 1); bright bone fades into the
/// bone and tissue around it (well under 1). Other candidates are left out
/// of the outside rings.
double borderSharpness(const cv::Mat& image, const cv::Mat& inside, const cv::Mat& others,
                       double reach) {
  cv::Mat outsideDistance, insideDistance;
  cv::distanceTransform(inside == 0, outsideDistance, cv::DIST_L2, 3);
  cv::distanceTransform(inside, insideDistance, cv::DIST_L2, 3);
  const cv::Mat innerRim = (insideDistance > 0.5) & (insideDistance <= 2.5);
  const cv::Mat outerRim = (outsideDistance > 0.5) & (outsideDistance <= 2.5) & ~others;
  const cv::Mat farRing = (outsideDistance > reach) & (outsideDistance <= reach + 2.5) & ~others;
  if (cv::countNonZero(innerRim) == 0 || cv::countNonZero(outerRim) == 0 ||
      cv::countNonZero(farRing) == 0) {
    return 0.0;
  }
  const double in = cv::mean(image, innerRim)[0];
  const double near = cv::mean(image, outerRim)[0];
  const double far = cv::mean(image, farRing)[0];
  return in > far ? (in - near) / (in - far) : 0.0;
}

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

Bar barOf(const cv::Mat& inside) {
  std::vector<cv::Point> points;
  cv::findNonZero(inside, points);
  if (points.size() < 3) {
    return {};
  }
  const cv::RotatedRect rect = cv::minAreaRect(points);
  const bool wide = rect.size.width >= rect.size.height;
  const double degrees = rect.angle + (wide ? 0.0 : 90.0);
  return {std::fmod(degrees + 360.0, 180.0) * M_PI / 180.0,
          std::max(rect.size.width, rect.size.height), std::min(rect.size.width, rect.size.height),
          rect.center};
}

/// Length over width of the component's smallest enclosing rectangle.
double elongation(const cv::Mat& inside) {
  return barOf(inside).elongation();
}

/// `mask` dilated by a disc of `radius` pixels.
cv::Mat dilatedByDisc(const cv::Mat& mask, int radius) {
  cv::Mat out;
  cv::dilate(
      mask, out,
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1)));
  return out;
}

/// `rect` grown by `margin` on every side, within an image of `size`.
cv::Rect grownWithin(const cv::Rect& rect, int margin, const cv::Size& size) {
  return cv::Rect(rect.x - margin, rect.y - margin, rect.width + 2 * margin,
                  rect.height + 2 * margin) &
         cv::Rect(cv::Point(0, 0), size);
}

/// What the metal and bone searches share on one working image, each found
/// once: the body (the film without its air) and the local contrast (the
/// white top-hat sized by the limb).
struct TissueMaps {
  cv::Mat body;          ///< CV_8U
  cv::Mat contrast;      ///< CV_32F
  double limbHalf = 0.0; ///< limbHalfWidth of the body
};

/// Candidate implants: the brightest tissue, standing well above a thin
/// ring around it. Bright bone (a doubled-over metaphysis, the foot) mostly
/// fades into the bone around it; what passes is checked against the bone's
/// level in findMetal, unless it is shaped like an implant (see
/// RadiographAnalysisParameters::implantMinElongation).
struct MetalCandidates {
  cv::Mat all;           ///< CV_8U
  cv::Mat implantShaped; ///< CV_8U, a subset of all
  cv::Mat nailShaped;    ///< CV_8U, a subset of all: implant shapes of the lower level
  /// CV_8U, a subset of all: large and partly in the air (an external
  /// fixator's frame and pins, or a border strip, or a label).
  cv::Mat external;
};

/// The width of the ring a metal candidate is compared with, in pixels.
int ringWidth(const cv::Mat& image) {
  return std::max(3, static_cast<int>(std::lround(0.006 * std::max(image.rows, image.cols))));
}

/// Candidates of one level: above `share` of the range. Below
/// metalShareOfMax only what is shaped like an implant counts (`shapeOnly`).
void addMetalCandidates(const cv::Mat& image, const TissueMaps& maps, const cv::Mat& rest,
                        double low, double range, double share, bool shapeOnly,
                        const RadiographAnalysisParameters& p, MetalCandidates& kept) {
  cv::Mat candidates = (image >= low + share * range) & rest;
  if (shapeOnly) {
    // At this level a nail joins the bright bone end it runs into: only
    // the thin parts (what an opening by a disc of implantMaxWidthShare
    // limb half-widths removes) are looked at. The opening is done by two
    // distance transforms (as a morphological opening by a disc tens of
    // pixels wide it doubled the analysis' time), both within the
    // candidates' bounding box grown so that the distances inside it are
    // those over the whole film.
    const double radius = std::round(0.5 * p.implantMaxWidthShare * maps.limbHalf);
    const int margin = static_cast<int>(radius) + 2;
    const cv::Rect box = grownWithin(cv::boundingRect(candidates), margin, image.size());
    if (!box.empty()) {
      cv::Mat inward, outward;
      cv::distanceTransform(candidates(box), inward, cv::DIST_L2, cv::DIST_MASK_5);
      const cv::Mat centres = inward > radius;
      cv::distanceTransform(centres == 0, outward, cv::DIST_L2, cv::DIST_MASK_5);
      cv::Mat inBox = candidates(box);
      inBox &= ~(outward <= radius);
    }
  }
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(candidates, labels, stats, centroids, 8);
  // Each component's pixels on the film's top, bottom, left and right edge,
  // counted once rather than from a full-image mask per component.
  std::vector<std::array<int, 4>> edgeCounts(static_cast<std::size_t>(count), {0, 0, 0, 0});
  for (int x = 0; x < image.cols; ++x) {
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(0, x))][0];
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(image.rows - 1, x))][1];
  }
  for (int y = 0; y < image.rows; ++y) {
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(y, 0))][2];
    ++edgeCounts[static_cast<std::size_t>(labels.at<int>(y, image.cols - 1))][3];
  }
  const int ring = ringWidth(image);
  const cv::Mat element =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * ring + 1, 2 * ring + 1));
  const double implantMinPixels = p.implantMinAreaShare * static_cast<double>(image.total());
  for (int l = 1; l < count; ++l) {
    const int area = stats.at<int>(l, cv::CC_STAT_AREA);
    if (area < p.metalMinPixels) {
      continue;
    }
    // Work inside the component's box grown by the ring.
    const cv::Rect box = cv::Rect(stats.at<int>(l, cv::CC_STAT_LEFT) - 2 * ring,
                                  stats.at<int>(l, cv::CC_STAT_TOP) - 2 * ring,
                                  stats.at<int>(l, cv::CC_STAT_WIDTH) + 4 * ring,
                                  stats.at<int>(l, cv::CC_STAT_HEIGHT) + 4 * ring) &
                         cv::Rect(0, 0, image.cols, image.rows);
    const cv::Mat inside = labels(box) == l;
    cv::Mat grown;
    cv::dilate(inside, grown, element);
    const cv::Mat around = grown & ~candidates(box) & rest(box);
    if (cv::countNonZero(around) == 0) {
      continue;
    }
    // Implants lie inside the limb, though a nail or a long plate may run
    // off the film: what lies along the film's edge is a border, a board or
    // a positioning aid.
    const double alongEdge =
        std::max({static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][0]) / image.cols,
                  static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][1]) / image.cols,
                  static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][2]) / image.rows,
                  static_cast<double>(edgeCounts[static_cast<std::size_t>(l)][3]) / image.rows});
    if (alongEdge > p.metalMaxEdgeShare) {
      continue;
    }
    // Spread as the interquartile range (in sigmas): the blurred rim at the
    // threshold is not the metal's texture.
    std::vector<float> values;
    values.reserve(static_cast<std::size_t>(area));
    for (int y = 0; y < box.height; ++y) {
      const float* row = image.ptr<float>(box.y + y) + box.x;
      const std::uint8_t* mask = inside.ptr<std::uint8_t>(y);
      for (int x = 0; x < box.width; ++x) {
        if (mask[x] != 0) {
          values.push_back(row[x]);
        }
      }
    }
    std::sort(values.begin(), values.end());
    const double in = values[values.size() / 2];
    const double spread = (values[3 * values.size() / 4] - values[values.size() / 4]) / 1.349;
    const double out = cv::mean(image(box), around)[0];
    // Metal is flat at the top of the range; bright bone keeps its
    // trabecular texture. A hollow nail's walls or a plate's holes vary
    // smoothly, so the texture is what is left after a small blur, away
    // from the component's blurred rim.
    cv::Mat blurred, core;
    cv::GaussianBlur(image(box), blurred, cv::Size(), 1.5);
    cv::erode(inside, core, cv::Mat(), cv::Point(-1, -1), 2);
    cv::Scalar residualMean, texture;
    cv::meanStdDev(image(box) - blurred, residualMean, texture, core);
    const bool flat = spread <= p.metalFlatness * range ||
                      (cv::countNonZero(core) > 0 && texture[0] <= p.metalTexture * range);
    const double ringContrast = (in - out) / range;
    // A plate seen en face lies over the bone, so its ring is bone, not
    // soft tissue: it stands less above it, and the step to the bone is
    // only part of its drop to the tissue beyond. Its size, shape and
    // border still tell it from bone.
    const auto plateSeenEnFace = [&]() {
      return !shapeOnly && ringContrast >= p.plateEnFaceRingContrast &&
             area >= p.plateEnFaceMinAreaShare * static_cast<double>(image.total()) &&
             elongation(inside) >= p.implantMinElongation &&
             borderSharpness(image(box), inside, candidates(box) & ~inside, ring) >=
                 p.plateEnFaceMinSharpness;
    };
    if (!flat || (ringContrast < p.metalRingContrast && !plateSeenEnFace())) {
      continue;
    }
    // Implants lie in the limb: what has air around it is a lead marker or
    // a label. An external fixator's frame stands in the air too, but its
    // pins run through the soft tissue into the bone: a large component
    // with a fair part of its ring in the limb is kept as a candidate
    // (findMetal asks it to reach the bone).
    const double inLimb =
        cv::countNonZero(around & (image(box) > low + p.implantTissueShare * range)) /
        static_cast<double>(cv::countNonZero(around));
    if (inLimb < p.implantMinLimbShare) {
      if (!shapeOnly && area >= implantMinPixels && inLimb >= p.fixatorMinLimbShare) {
        kept.external(box).setTo(255, inside);
        kept.all(box).setTo(255, inside);
      }
      continue;
    }
    if (!shapeOnly) {
      kept.all(box).setTo(255, inside);
    }
    // A windowed 8-bit export can leave a plate or a nail barely brighter
    // than the bone, but its shape still gives it away: a large, long,
    // flat bar, stepping down sharply at its border. At the lower level a
    // nail stands out of the bone around it, not of soft tissue (less ring
    // contrast), and that bone lies in the body: a bright strip between
    // two exposures of one film does not.
    const double ringRequired = shapeOnly ? p.nailRingContrast : p.implantRingContrast;
    if (area < implantMinPixels || ringContrast < ringRequired) {
      continue;
    }
    if (shapeOnly &&
        cv::countNonZero(around & maps.body(box)) < p.nailMinBodyShare * cv::countNonZero(around)) {
      continue;
    }
    if (elongation(inside) >= p.implantMinElongation &&
        borderSharpness(image(box), inside, candidates(box) & ~inside, ring) >=
            p.implantMinSharpness) {
      (shapeOnly ? kept.nailShaped : kept.implantShaped)(box).setTo(255, inside);
      kept.all(box).setTo(255, inside);
    }
  }
}

/// The range of a film's pixels (within `mask`, or all when it is empty):
/// from the air (2nd percentile) to the brightest (99.95th percentile, so
/// that a few hot pixels do not set it).
struct FilmRange {
  double low = 0, top = 0;
};

FilmRange rangeOf(const cv::Mat& image, const cv::Mat& mask) {
  const auto [top, low] = percentiles<2>(image, mask, {0.9995, 0.02});
  return {low, top};
}

/// `rest` (the pixels not yet found to be metal) spans `restRange`.
MetalCandidates metalCandidates(const cv::Mat& image, const cv::Mat& rest,
                                const FilmRange& restRange, const TissueMaps& maps,
                                const RadiographAnalysisParameters& p) {
  MetalCandidates kept{cv::Mat::zeros(image.size(), CV_8U), cv::Mat::zeros(image.size(), CV_8U),
                       cv::Mat::zeros(image.size(), CV_8U), cv::Mat::zeros(image.size(), CV_8U)};
  const double low = restRange.low;
  if (!(restRange.top > low)) {
    return kept;
  }
  const double range = restRange.top - low;
  addMetalCandidates(image, maps, rest, low, range, p.metalShareOfMax, false, p, kept);
  // A nail next to a plate or a brighter bone end can stay below the
  // metal level (a windowed export puts the plate at the top and the nail
  // at 0.65-0.75 of the range): a lower level, for implant shapes only.
  addMetalCandidates(image, maps, rest & (kept.all == 0), low, range, p.implantShareOfMax, true, p,
                     kept);
  return kept;
}

cv::Mat findBone(const TissueMaps& maps, const cv::Mat& metal,
                 const RadiographAnalysisParameters& p, bool recoverBone);

/// The share of bone in the band between `inner` and `outer` pixels outside
/// `mask`.
double boneInBand(const cv::Mat& mask, const cv::Mat& bone, int inner, int outer) {
  const cv::Mat band =
      dilatedByDisc(mask, std::max(1, outer)) & ~dilatedByDisc(mask, std::max(1, inner));
  const int total = cv::countNonZero(band);
  return total > 0 ? static_cast<double>(cv::countNonZero(band & bone)) / total : 0.0;
}

/// The share of bone in a band a quarter to 0.6 of a nail's width outside
/// it: a nail lies in a bone wider than itself, with cortex on either side;
/// a thin, dense bone shaft (shaped like a nail at the lower level) has
/// only soft tissue there.
double boneBeside(const cv::Mat& nail, const cv::Mat& bone) {
  cv::Mat distance;
  cv::distanceTransform(nail, distance, cv::DIST_L2, 3);
  double halfWidth = 0;
  cv::minMaxLoc(distance, nullptr, &halfWidth);
  return boneInBand(nail, bone, static_cast<int>(std::lround(0.5 * halfWidth)),
                    static_cast<int>(std::lround(1.2 * halfWidth)));
}

/// The share of bone in a band just beyond a component's blurred rim
/// (`ring` - 1 to `ring` + 1 pixels out): the rim of anything bright stands
/// out of its surroundings like bone, what lies beyond it does not.
double boneBeyondRim(const cv::Mat& component, const cv::Mat& bone, int ring) {
  return boneInBand(component, bone, ring - 1, ring + 1);
}

/// The compact parts of a rejected candidate that are themselves metal:
/// above the `required` level, shorter than an implant's bar, and stepping
/// up from the ring around them by `coreStep` of the bone's contrast over
/// soft tissue. A screw head seen end-on joins the plate it holds when the
/// plate, seen en face, is only a little brighter than the bone; the whole
/// candidate's median then fails the level and the screw was lost with it.
/// The brightest ridges of a dense cortex pass the level too, but they fade
/// into the cortex around them.
/// (`image` may be a crop of the film: `ring` is the film's ringWidth.)
cv::Mat saturatedCores(const cv::Mat& image, const cv::Mat& candidate, double required,
                       double contrast, int ring, const RadiographAnalysisParameters& p) {
  if (!(contrast > 0)) {
    // Bone no brighter than soft tissue: no step can be judged.
    return cv::Mat::zeros(image.size(), CV_8U);
  }
  cv::Mat cores = candidate & (image >= required);
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(cores, labels, stats, centroids, 8);
  cores.setTo(0);
  for (int l = 1; l < count; ++l) {
    if (stats.at<int>(l, cv::CC_STAT_AREA) < p.metalMinPixels) {
      continue;
    }
    const cv::Mat core = labels == l;
    if (elongation(core) >= p.implantMinElongation) {
      continue;
    }
    const cv::Mat around = dilatedByDisc(core, ring) & ~core;
    const double step = percentile(image, core, 0.5) - cv::mean(image, around)[0];
    if (step >= p.metalCoreStep * contrast) {
      cores.setTo(255, core);
    }
  }
  return cores;
}

/// Implants: candidates far brighter than the bone itself (bone found with
/// the candidates left out, so that a nail cannot pass for the bone), or
/// shaped like an implant. Brightness is the candidate's median: a screw
/// head saturates, but on a film with bright bone its blurred rim pulls
/// its mean under the level asked (phantom lateral films with a plate).
cv::Mat findMetal(const cv::Mat& image, const FilmRange& film, const TissueMaps& maps,
                  const RadiographAnalysisParameters& p) {
  cv::Mat metal = cv::Mat::zeros(image.size(), CV_8U);
  // Two levels: a plate or nail first, then what is bright next to the
  // rest (screws, thinner in projection than the plate they hold).
  double firstSoftLevel = 0.0;
  for (int level = 0; level < 2; ++level) {
    const cv::Mat rest = metal == 0;
    const MetalCandidates candidates =
        metalCandidates(image, rest, level == 0 ? film : rangeOf(image, rest), maps, p);
    if (cv::countNonZero(candidates.all) == 0) {
      break;
    }
    const cv::Mat excluded = metal | candidates.all;
    const cv::Mat bone = findBone(maps, excluded, p, false);
    const cv::Mat plainBone = bone & ~excluded;
    const double boneLevel = percentile(image, plainBone, 0.5);
    const cv::Mat notBone = (bone == 0) & ~excluded;
    const double softLevel = percentile(image, notBone, 0.75);
    if (std::isnan(boneLevel) || std::isnan(softLevel)) {
      break;
    }
    // With a saturated nail and the brightest bone beside it left out (a
    // wide shaft's lateral film), the second look's bone mask can take in
    // the whole limb: what is left as soft tissue is then at the air's
    // level, and its levels no longer tell bone from metal.
    if (level == 0) {
      firstSoftLevel = softLevel;
    } else if (softLevel < p.metalSoftLevelKept * firstSoftLevel) {
      break;
    }
    const double required = boneLevel + p.metalAboveBone * std::max(0.0, boneLevel - softLevel);
    // The implants this level found by their shape (a nail, a plate): the
    // cortex beside a nail, seen edge-on, is a long bright band parallel to
    // it and just beside it, and on a wide bone it passes the brightness
    // test (a 14 mm shaft's lateral film: 0.83 of the range against 0.80).
    // (The metal found by an earlier level is not asked about: the other
    // half of a nail cut by the fracture lies along it too.)
    // Built when first asked for: most films have no long candidate that
    // passes by brightness alone.
    const bool anyImplantShaped = cv::countNonZero(candidates.implantShaped) > 0;
    std::optional<std::vector<std::pair<Bar, cv::Mat>>> implantBars;
    const auto barsOfImplants = [&]() -> const std::vector<std::pair<Bar, cv::Mat>>& {
      if (!implantBars) {
        implantBars.emplace();
        cv::Mat implantLabels;
        const int implants = cv::connectedComponents(candidates.implantShaped, implantLabels, 8);
        for (int k = 1; k < implants; ++k) {
          const cv::Mat implant = implantLabels == k;
          const Bar bar = barOf(implant);
          implantBars->emplace_back(
              bar,
              dilatedByDisc(implant, std::max(1, static_cast<int>(std::lround(0.5 * bar.width)))));
        }
      }
      return *implantBars;
    };
    // Side by side with the implant, not in line with it (the other half
    // of a nail cut by the fracture lies on its axis).
    const auto cortexBesideImplant = [&](const cv::Mat& component, const cv::Rect& box) {
      if (!anyImplantShaped) {
        return false;
      }
      const Bar bar = barOf(component);
      if (bar.elongation() < p.implantMinElongation) {
        return false;
      }
      const cv::Point2d centre = bar.centre + cv::Point2d(box.x, box.y);
      for (const auto& [implant, beside] : barsOfImplants()) {
        double turn = std::abs(bar.angle - implant.angle);
        turn = std::min(turn, M_PI - turn);
        if (turn <= p.cortexStripMaxTurnDeg * M_PI / 180.0 &&
            implant.offAxis(centre) >= 0.5 * implant.width &&
            cv::countNonZero(component & beside(box)) > 0) {
          return true;
        }
      }
      return false;
    };
    cv::Mat labels, stats, centroids;
    const int count = cv::connectedComponentsWithStats(candidates.all, labels, stats, centroids, 8);
    int added = 0;
    for (int l = 1; l < count; ++l) {
      // Each component is looked at within its own box, not as a mask of
      // the whole film.
      const cv::Rect box(stats.at<int>(l, cv::CC_STAT_LEFT), stats.at<int>(l, cv::CC_STAT_TOP),
                         stats.at<int>(l, cv::CC_STAT_WIDTH), stats.at<int>(l, cv::CC_STAT_HEIGHT));
      const cv::Mat component = labels(box) == l;
      // Standing partly in the air, only an external fixator is metal: its
      // pins reach the bone; a border strip or a label does not.
      if (cv::countNonZero(component & candidates.external(box)) > 0 &&
          boneBeyondRim(labels == l, plainBone, ringWidth(image)) < p.fixatorMinBoneBeyond) {
        continue;
      }
      // What the lower level found is a nail or nothing: it is bright next
      // to bone by construction, so brightness does not decide for it.
      const cv::Mat nail = component & candidates.nailShaped(box);
      const cv::Mat other = component & ~candidates.nailShaped(box);
      const bool hasOther = cv::countNonZero(other) > 0;
      const bool shaped = cv::countNonZero(other & candidates.implantShaped(box)) > 0;
      if (hasOther && (shaped || (percentile(image(box), other, 0.5) >= required &&
                                  !cortexBesideImplant(other, box)))) {
        metal(box).setTo(255, other);
        ++added;
      } else if (hasOther) {
        // Its parts may be metal still: a screw head joined to a faint plate.
        // (Worked in the box grown by two rings, so the ring around a part
        // at the box's border is measured too.)
        const int ring = ringWidth(image);
        const cv::Rect grown = grownWithin(box, 2 * ring, image.size());
        cv::Mat otherGrown = cv::Mat::zeros(grown.size(), CV_8U);
        otherGrown(box - grown.tl()).setTo(255, other);
        const cv::Mat cores =
            saturatedCores(image(grown), otherGrown, required, boneLevel - softLevel, ring, p);
        if (cv::countNonZero(cores) > 0) {
          metal(grown).setTo(255, cores);
          ++added;
        }
      }
      if (cv::countNonZero(nail) > 0) {
        // The band beside the nail reaches beyond its box.
        cv::Mat wholeNail = cv::Mat::zeros(image.size(), CV_8U);
        wholeNail(box).setTo(255, nail);
        if (boneBeside(wholeNail, plainBone) >= p.nailMinBoneBeside) {
          metal(box).setTo(255, nail);
          ++added;
        }
      }
    }
    if (added == 0) {
      break;
    }
  }
  // The blurred rim of an implant is still metal, not an edge of the bone.
  cv::dilate(metal, metal, cv::Mat(), cv::Point(-1, -1), 2);
  return metal;
}

/// The body: the image above the air. One Otsu level over the whole film
/// splits it where the histogram's valley is deepest, which is often
/// between the bone (and the thickest soft tissue) and the rest: the soft
/// tissue of a thin limb or a windowed export is nearer the air than the
/// bone. So the dark class is split once more; when its two halves stand
/// far apart for its lower half's noise (air against soft tissue, not noise
/// against noise), the body starts at that second level.
cv::Mat bodyMask(const cv::Mat& image) {
  cv::Mat image8;
  image.convertTo(image8, CV_8U, 255.0);
  cv::Mat tissue;
  const double level = cv::threshold(image8, tissue, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
  std::vector<std::uint8_t> dark;
  dark.reserve(image8.total());
  for (int y = 0; y < image8.rows; ++y) {
    const std::uint8_t* row = image8.ptr<std::uint8_t>(y);
    for (int x = 0; x < image8.cols; ++x) {
      if (row[x] <= level) {
        dark.push_back(row[x]);
      }
    }
  }
  if (dark.size() > 16) {
    cv::Mat ignored;
    const cv::Mat column(static_cast<int>(dark.size()), 1, CV_8U, dark.data());
    const double airLevel =
        cv::threshold(column, ignored, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
    const cv::Mat air = column <= airLevel;
    cv::Scalar airMean, airSpread;
    cv::meanStdDev(column, airMean, airSpread, air);
    const double softMean = cv::mean(column, column > airLevel)[0];
    if (cv::countNonZero(air) > 0 && cv::countNonZero(column > airLevel) > 0 &&
        softMean - airMean[0] >= kAirSeparation * std::max(1.0, airSpread[0])) {
      tissue = image8 > airLevel;
    }
  }
  cv::morphologyEx(tissue, tissue, cv::MORPH_OPEN, cv::Mat(), cv::Point(-1, -1), 2);
  return tissue;
}

/// Half the width of the limb: the largest disc inside the body.
double limbHalfWidth(const cv::Mat& tissue) {
  cv::Mat distance;
  cv::distanceTransform(tissue, distance, cv::DIST_L2, 3);
  // A high percentile of the distance over the tissue rather than its
  // maximum: the foot, the knee or the trunk must not set the scale.
  // A body filling the whole film has no edge to measure from: the limb is
  // then at most the film's width (and the element stays bounded).
  const double cap = 0.5 * std::min(tissue.rows, tissue.cols);
  const double half = percentile(distance, tissue, 0.98);
  return std::isnan(half) ? cap : std::clamp(half, 4.0, cap);
}

/// Local contrast: bone stands out of the soft tissue around it whatever the
/// exposure, casts and the thickness of the limb. The background is an
/// opening by a disc narrower than the limb and wider than its bones (a
/// long bone is under half the limb's width: femur in thigh, tibia in leg,
/// radius in forearm), computed at quarter resolution.
cv::Mat localContrast(const cv::Mat& image, double limb, const RadiographAnalysisParameters& p) {
  cv::Mat small;
  cv::resize(image, small, cv::Size(), 0.25, 0.25, cv::INTER_AREA);
  const int radius = std::max(2, static_cast<int>(std::lround(p.topHatShare * limb / 4.0)));
  const cv::Mat element =
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1));
  cv::Mat background;
  cv::morphologyEx(small, background, cv::MORPH_OPEN, element);
  cv::GaussianBlur(background, background, cv::Size(), radius / 2.0);
  cv::Mat full;
  cv::resize(background, full, image.size(), 0, 0, cv::INTER_LINEAR);
  cv::Mat contrast = image - full;
  return contrast;
}

/// The Otsu level of bone against soft tissue in the local contrast, over
/// the given tissue, with the histogram ranged up to the given percentile of
/// the tissue's contrast; the contrast scaled to 8 bits by that range.
double boneLevel(const cv::Mat& contrast, const cv::Mat& tissue, double clip, cv::Mat& contrast8) {
  double lo = 0, top = 0;
  cv::minMaxLoc(contrast, &lo, &top, nullptr, nullptr, tissue);
  const double hi = std::min(top, percentile(contrast, tissue, clip));
  if (!(hi > lo)) {
    return kNaN;
  }
  cv::Mat clipped = cv::min(contrast, hi);
  clipped.convertTo(contrast8, CV_8U, 255.0 / (hi - lo), -lo * 255.0 / (hi - lo));
  std::vector<std::uint8_t> values;
  for (int y = 0; y < contrast8.rows; ++y) {
    for (int x = 0; x < contrast8.cols; ++x) {
      if (tissue.at<std::uint8_t>(y, x) != 0) {
        values.push_back(contrast8.at<std::uint8_t>(y, x));
      }
    }
  }
  const cv::Mat column(static_cast<int>(values.size()), 1, CV_8U, values.data());
  cv::Mat ignored;
  return cv::threshold(column, ignored, 0, 255, cv::THRESH_BINARY | cv::THRESH_OTSU);
}

/// When the bright class of the bone level holds under a given share of the
/// tissue, something brighter than bone took it (the heel, a cast's rim, a
/// label strip, an implant not taken for metal) and the bone fell into the
/// dark class. The level is then found again with the histogram clipped at a
/// lower percentile: whatever is brighter than the bone saturates with it.
cv::Mat withBoneRecovered(const cv::Mat& contrast, const cv::Mat& tissue, const cv::Mat& bone,
                          const RadiographAnalysisParameters& p) {
  const double share =
      static_cast<double>(cv::countNonZero(bone & tissue)) / std::max(1, cv::countNonZero(tissue));
  if (share >= p.boneMinShare) {
    return bone;
  }
  cv::Mat contrast8;
  const double level = boneLevel(contrast, tissue, p.boneContrastClip, contrast8);
  return std::isnan(level) ? bone : cv::Mat(contrast8 > level);
}

TissueMaps tissueMaps(const cv::Mat& image, const RadiographAnalysisParameters& p) {
  TissueMaps maps;
  maps.body = bodyMask(image);
  maps.limbHalf = limbHalfWidth(maps.body);
  maps.contrast = localContrast(image, maps.limbHalf, p);
  return maps;
}

/// Bone: what stands out of the soft tissue by its local contrast. With
/// recoverBone, a bright class too small to be the bone is redone (see
/// withBoneRecovered); findMetal, which only takes the bone's median
/// brightness, keeps the plain level (recovered there too, the metal found
/// on two phantom patients changed and two more cortices went unassessed).
cv::Mat findBone(const TissueMaps& maps, const cv::Mat& metal,
                 const RadiographAnalysisParameters& p, bool recoverBone) {
  const cv::Mat& contrast = maps.contrast;
  // The Otsu level of bone against soft tissue, from the body's tissue that
  // is not metal: air would pull it down to the skin, an implant's contrast
  // up above the bone.
  const cv::Mat tissue = maps.body & (metal == 0);
  // The histogram's range from the tissue's own spread: a few screws or a
  // marker at the top must not squeeze the bone into a few levels.
  cv::Mat contrast8;
  const double level = boneLevel(contrast, tissue, 0.995, contrast8);
  if (std::isnan(level)) {
    return cv::Mat::zeros(contrast.size(), CV_8U);
  }
  cv::Mat bone = contrast8 > level;
  if (recoverBone) {
    bone = withBoneRecovered(contrast, tissue, bone, p);
  }
  // Metal in the limb is part of the bone it holds (a nail in the canal, a
  // plate on the cortex, screws through it). An external fixator's frame
  // stands in the air beside the limb: joined to the bone by its pins, it
  // would become the largest bone on the film. Only metal near the limb's
  // own tissue counts.
  if (cv::countNonZero(metal) > 0) {
    // Within the metal's box grown by the reach: the tissue any metal pixel
    // is near lies inside it.
    const double reach = p.metalInLimbReach * maps.limbHalf;
    const int margin = static_cast<int>(std::ceil(reach)) + 1;
    const cv::Rect box = grownWithin(cv::boundingRect(metal), margin, metal.size());
    cv::Mat awayFromTissue;
    cv::distanceTransform(tissue(box) == 0, awayFromTissue, cv::DIST_L2, cv::DIST_MASK_3);
    const cv::Mat inLimb = awayFromTissue <= reach;
    cv::Mat boneInBox = bone(box);
    boneInBox &= ~metal(box) | inLimb;
    boneInBox |= metal(box) & inLimb;
  }
  cv::morphologyEx(bone, bone, cv::MORPH_OPEN, cv::Mat());
  cv::morphologyEx(bone, bone, cv::MORPH_CLOSE, cv::Mat());
  return bone;
}

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

/// The mask opened by a disc of half its thickest part's inscribed radius,
/// by two distance transforms (the time does not grow with the radius).
/// The mask must have a border of background: without it the distance
/// transform would take the mask to run on past the image's edge.
cv::Mat openedAtHalfThickness(const cv::Mat& mask) {
  cv::Mat inside;
  cv::distanceTransform(mask, inside, cv::DIST_L2, cv::DIST_MASK_5);
  double thickest = 0;
  cv::minMaxLoc(inside, nullptr, &thickest);
  const double radius = 0.5 * thickest;
  const cv::Mat core = inside > radius;
  cv::Mat fromCore;
  cv::distanceTransform(core == 0, fromCore, cv::DIST_L2, cv::DIST_MASK_5);
  return (fromCore <= radius) & mask;
}

/// A component's principal axis, if it is elongated enough to be a long
/// bone, and its score as one: area times width (the widest long bone: a
/// femur over its patella, a tibia over its fibula).
struct ComponentAxis {
  ShaftFrame frame;
  double score = 0;
  /// The implant fixing a bone of the component, if it holds one (see
  /// addFixation): a frame along it and its pixels (cut from the image at
  /// fixationOffset).
  std::optional<ShaftFrame> fixationFrame;
  cv::Mat fixationMetal;
  cv::Point fixationOffset;
};

/// `component` is a mask cut from the image at `offset`.
std::optional<ComponentAxis> elongatedAxis(const cv::Mat& component, cv::Point offset) {
  const cv::Moments m = cv::moments(component, true);
  if (m.m00 <= 0) {
    return std::nullopt;
  }
  const double area = m.m00;
  const double a = m.mu20 / m.m00, b = m.mu11 / m.m00, c = m.mu02 / m.m00;
  const double spread = std::sqrt(std::max(0.0, (a - c) * (a - c) / 4 + b * b));
  const double l1 = (a + c) / 2 + spread;
  const double l2 = std::max(1e-9, (a + c) / 2 - spread);
  const double length = 4 * std::sqrt(l1);
  const double width = area / length;
  if (length < 2.0 * width || l1 / l2 < 3) {
    return std::nullopt;
  }
  const double angle = 0.5 * std::atan2(2 * b, a - c);
  ComponentAxis axis;
  ShaftFrame& frame = axis.frame;
  frame.centre = {offset.x + m.m10 / m.m00, offset.y + m.m01 / m.m00};
  frame.setAlong({std::cos(angle), std::sin(angle)});
  frame.sMin = -length / 2;
  frame.sMax = length / 2;
  frame.uHalf = width;
  axis.score = area * width;
  return axis;
}

/// The implant fixing a bone the component holds, if any: the longest metal
/// piece inside it that is shaped like an implant (implantMinElongation)
/// and runs along its axis (within fixationMaxTurnDeg) for
/// implantSpanMinLengthWidths of the component's mean widths or more
/// (elongatedAxis leaves the full mean width in uHalf until the edges are
/// traced): a nail, a plate; not an external fixator's pins, across the
/// shaft, nor a screw. `component` and `metal` are cut from the image at
/// `offset`.
void addFixation(const cv::Mat& component, const cv::Mat& metal, cv::Point offset,
                 const RadiographAnalysisParameters& p, ComponentAxis& axis) {
  cv::Mat pieces;
  const int count = cv::connectedComponents(component & metal, pieces, 8);
  double longest = p.implantSpanMinLengthWidths * axis.frame.uHalf;
  for (int k = 1; k < count; ++k) {
    const cv::Mat piece = pieces == k;
    const Bar bar = barOf(piece);
    const cv::Point2d along(std::cos(bar.angle), std::sin(bar.angle));
    if (bar.length < longest || bar.elongation() < p.implantMinElongation ||
        std::abs(along.dot(axis.frame.along)) < std::cos(p.fixationMaxTurnDeg * M_PI / 180.0)) {
      continue;
    }
    longest = bar.length;
    ShaftFrame f = axis.frame;
    f.centre = bar.centre + cv::Point2d(offset);
    f.setAlong(along);
    axis.fixationFrame = f;
    axis.fixationMetal = piece;
    axis.fixationOffset = offset;
  }
}

/// The long bone's initial frame: the principal axis of the bone mask's
/// best elongated component (see elongatedAxis), the mask closed first (the
/// cortices on both sides of a nail, or of a dark canal, are one bone, not
/// three strips). With it, the implant that component holds along its axis
/// (`metal`, the whole image's metal mask; see addFixation): the bone it
/// fixes is the one to trace when the component holds two bones.
std::optional<ComponentAxis> initialFrame(const cv::Mat& boneMask, const cv::Mat& metal,
                                          const RadiographAnalysisParameters& p) {
  const int size =
      std::max(3, static_cast<int>(std::lround(0.03 * std::max(boneMask.rows, boneMask.cols))));
  cv::Mat bone;
  cv::morphologyEx(boneMask, bone, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(size, size)));
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(bone, labels, stats, centroids, 8);
  const double minArea = 0.002 * static_cast<double>(bone.total());
  std::optional<ComponentAxis> best;
  cv::Mat bestComponent; // cut from the image at bestOffset
  cv::Point bestOffset;
  const auto consider = [&](const std::optional<ComponentAxis>& axis, const cv::Mat& component,
                            cv::Point offset) {
    if (axis && (!best || axis->score > best->score)) {
      best = axis;
      bestComponent = component;
      bestOffset = offset;
    }
  };
  for (int l = 1; l < count; ++l) {
    if (stats.at<int>(l, cv::CC_STAT_AREA) < minArea) {
      continue;
    }
    const cv::Rect box(stats.at<int>(l, cv::CC_STAT_LEFT), stats.at<int>(l, cv::CC_STAT_TOP),
                       stats.at<int>(l, cv::CC_STAT_WIDTH), stats.at<int>(l, cv::CC_STAT_HEIGHT));
    const cv::Mat component = labels(box) == l;
    if (const std::optional<ComponentAxis> axis = elongatedAxis(component, box.tl())) {
      consider(axis, component, box.tl());
      continue;
    }
    // Not elongated: metal narrower than the bone may have joined it to
    // what stands beside it into one broad shape (an external fixator's
    // pins, bone in the limb, with the clamps and rod outside it: a
    // ladder). Opened by a disc of half the component's thickest inscribed
    // radius, the pins let go of the bone.
    cv::Mat padded;
    cv::copyMakeBorder(component, padded, 1, 1, 1, 1, cv::BORDER_CONSTANT, 0);
    const cv::Mat opened = openedAtHalfThickness(padded);
    cv::Mat parts, partStats, partCentroids;
    const int partCount =
        cv::connectedComponentsWithStats(opened, parts, partStats, partCentroids, 8);
    for (int q = 1; q < partCount; ++q) {
      if (partStats.at<int>(q, cv::CC_STAT_AREA) >= minArea) {
        const cv::Mat part = (parts == q)(cv::Rect(1, 1, box.width, box.height));
        consider(elongatedAxis(part, box.tl()), part, box.tl());
      }
    }
  }
  if (best) {
    addFixation(bestComponent, metal(cv::Rect(bestOffset, bestComponent.size())), bestOffset, p,
                *best);
  }
  return best;
}

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

Straightened straighten(const cv::Mat& image, const cv::Mat& bone, const cv::Mat& metal,
                        const ShaftFrame& frame, const cv::Mat& opaque = cv::Mat(),
                        const cv::Mat& faint = cv::Mat()) {
  Straightened out;
  out.frame = frame;
  out.imageSize = bone.size();
  const int rows = std::max(8, static_cast<int>(std::ceil(frame.sMax - frame.sMin)));
  const int cols = std::max(8, static_cast<int>(std::ceil(2 * frame.uHalf)) + 1);
  cv::Mat mapX(rows, cols, CV_32F), mapY(rows, cols, CV_32F);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) {
      const cv::Point2d p = out.working(i, j);
      mapX.at<float>(i, j) = static_cast<float>(p.x);
      mapY.at<float>(i, j) = static_cast<float>(p.y);
    }
  }
  if (!image.empty()) {
    cv::remap(image, out.image, mapX, mapY, cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  }
  cv::remap(bone, out.bone, mapX, mapY, cv::INTER_NEAREST, cv::BORDER_CONSTANT, 0);
  cv::remap(metal, out.metal, mapX, mapY, cv::INTER_NEAREST, cv::BORDER_CONSTANT, 0);
  if (!opaque.empty()) {
    cv::remap(opaque, out.opaque, mapX, mapY, cv::INTER_NEAREST, cv::BORDER_CONSTANT, 0);
  }
  if (!faint.empty()) {
    cv::remap(faint, out.faint, mapX, mapY, cv::INTER_NEAREST, cv::BORDER_CONSTANT, 0);
  }
  return out;
}

/// Per row: the bone run around the axis (outer edges), NaN where none.
struct Edges {
  std::vector<double> left, right; ///< column of the outer edge
  [[nodiscard]] double width(std::size_t i) const { return right[i] - left[i]; }
  [[nodiscard]] double mid(std::size_t i) const { return 0.5 * (left[i] + right[i]); }
};

Edges boneEdges(const Straightened& st, double centreColumn) {
  Edges e;
  const auto n = static_cast<std::size_t>(st.rows());
  e.left.assign(n, kNaN);
  e.right.assign(n, kNaN);
  // A crack, a noisy pixel or the darker medullary canal does not end the
  // bone (the canal keeps most of the bone's local contrast); the gap
  // between two bones (tibia and fibula) usually does. Next to metal the
  // canal around a nail may be dark: there the bone goes on up to a third of
  // the frame further.
  const int maxGap = std::max(2, st.cols() / 40);
  const int maxGapNextToMetal = std::max(maxGap, st.cols() / 6);
  for (int i = 0; i < st.rows(); ++i) {
    const std::uint8_t* row = st.bone.ptr<std::uint8_t>(i);
    const std::uint8_t* metal = st.metal.ptr<std::uint8_t>(i);
    // Start at the bone pixel nearest the centre line.
    int start = -1;
    for (int d = 0; d < st.cols(); ++d) {
      for (int j : {static_cast<int>(centreColumn) - d, static_cast<int>(centreColumn) + d}) {
        if (j >= 0 && j < st.cols() && (row[j] != 0 || metal[j] != 0) && start < 0) {
          start = j;
        }
      }
      if (start >= 0 || d > st.cols() / 4) {
        break;
      }
    }
    if (start < 0) {
      continue;
    }
    const auto extend = [&](int step) {
      // Metal (a nail in the canal) does not end the bone, nor is it its
      // edge: the edge is the outermost bone pixel.
      int edge = row[start] != 0 && metal[start] == 0 ? start : -1;
      int gap = 0;
      bool afterMetal = metal[start] != 0;
      for (int j = start + step; j >= 0 && j < st.cols(); j += step) {
        if (metal[j] != 0) {
          gap = 0;
          afterMetal = true;
        } else if (row[j] != 0) {
          gap = 0;
          edge = j;
          afterMetal = metal[j] != 0;
        } else if (++gap > (afterMetal ? maxGapNextToMetal : maxGap)) {
          break;
        }
      }
      return edge;
    };
    const int left = extend(-1);
    const int right = extend(+1);
    if (left >= 0 && right >= 0) {
      e.left[static_cast<std::size_t>(i)] = left;
      e.right[static_cast<std::size_t>(i)] = right + 1;
    }
  }
  return e;
}

/// Median-filters a profile along the shaft (NaN-aware).
std::vector<double> medianFiltered(const std::vector<double>& v, int halfWindow) {
  std::vector<double> out(v.size(), kNaN);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::vector<double> window;
    for (int d = -halfWindow; d <= halfWindow; ++d) {
      const auto k = static_cast<std::ptrdiff_t>(i) + d;
      if (k >= 0 && k < static_cast<std::ptrdiff_t>(v.size())) {
        window.push_back(v[static_cast<std::size_t>(k)]);
      }
    }
    out[i] = median(window);
  }
  return out;
}

/// Refines the axis: the midpoints of the bone's cross-sections over the
/// shaft (rows whose width is near the median) lie on it.
std::optional<ShaftFrame> refineFrame(const cv::Mat& image, const cv::Mat& bone,
                                      const cv::Mat& metal, ShaftFrame frame) {
  for (int pass = 0; pass < 3; ++pass) {
    // Generous margins: the bone may extend beyond the principal-axis guess.
    frame.uHalf = std::max(frame.uHalf, 20.0);
    const cv::Point2d corners[4] = {
        {0, 0},
        {static_cast<double>(image.cols), 0},
        {0, static_cast<double>(image.rows)},
        {static_cast<double>(image.cols), static_cast<double>(image.rows)}};
    double sLo = 1e18, sHi = -1e18;
    for (const cv::Point2d& c : corners) {
      const double s = (c - frame.centre).dot(frame.along);
      sLo = std::min(sLo, s);
      sHi = std::max(sHi, s);
    }
    frame.sMin = sLo;
    frame.sMax = sHi;
    // Only the masks: the edges are all the refinement reads.
    const Straightened st = straighten(cv::Mat(), bone, metal, frame);
    const Edges e = boneEdges(st, frame.uHalf);
    std::vector<double> widths;
    for (std::size_t i = 0; i < e.left.size(); ++i) {
      widths.push_back(e.width(i));
    }
    const std::vector<double> smooth = medianFiltered(widths, 5);
    const double typical = median(smooth);
    if (std::isnan(typical) || typical < 4) {
      return std::nullopt;
    }
    std::vector<double> s, mid;
    double first = kNaN, last = kNaN;
    for (std::size_t i = 0; i < smooth.size(); ++i) {
      if (!std::isnan(smooth[i]) && smooth[i] > 0.6 * typical && smooth[i] < 1.45 * typical) {
        s.push_back(static_cast<double>(i));
        mid.push_back(e.mid(i) - frame.uHalf);
        first = std::isnan(first) ? static_cast<double>(i) : first;
        last = static_cast<double>(i);
      }
    }
    const std::optional<Line> line = robustLineFit(s, mid);
    if (!line || s.size() < 10) {
      return std::nullopt;
    }
    // New centre on the fitted line at the middle of the shaft rows; the
    // direction turns by the fitted slope.
    const double sMid = 0.5 * (first + last);
    const cv::Point2d newCentre = st.working(sMid, line->at(sMid) + frame.uHalf);
    cv::Point2d along = frame.along + frame.across * line->b;
    along *= 1.0 / std::sqrt(along.dot(along));
    frame.centre = newCentre;
    frame.setAlong(along);
    frame.uHalf = 2.0 * typical;
    // The bone's extent along the axis: the rows with bone near the axis.
    double bFirst = kNaN, bLast = kNaN;
    for (std::size_t i = 0; i < e.left.size(); ++i) {
      if (!std::isnan(smooth[i]) && smooth[i] > 0.3 * typical) {
        bFirst = std::isnan(bFirst) ? static_cast<double>(i) : bFirst;
        bLast = static_cast<double>(i);
      }
    }
    const double shift = (newCentre - st.working(0, frame.uHalf)).dot(frame.along);
    frame.sMin = bFirst - shift - 2;
    frame.sMax = bLast - shift + 2;
  }
  return frame;
}

/// The share of `implant`'s pixels (cut from the image at `offset`) over
/// the bone a refined `frame` finds or within implantSpanBoneReachWidths of
/// the bone's edges (as fixedRows counts them).
double heldShare(const ShaftFrame& frame, const cv::Mat& implant, cv::Point offset,
                 const RadiographAnalysisParameters& p) {
  // A refined frame reaches twice the bone's width either side of its axis.
  const double boneWidth = 0.5 * frame.uHalf;
  const double reach = (0.5 + p.implantSpanBoneReachWidths) * boneWidth;
  int total = 0, held = 0;
  for (int y = 0; y < implant.rows; ++y) {
    const std::uint8_t* row = implant.ptr<std::uint8_t>(y);
    for (int x = 0; x < implant.cols; ++x) {
      if (row[x] == 0) {
        continue;
      }
      ++total;
      const cv::Point2d d = cv::Point2d(x + offset.x, y + offset.y) - frame.centre;
      const double s = d.dot(frame.along);
      held += s >= frame.sMin && s <= frame.sMax && std::abs(d.dot(frame.across)) <= reach ? 1 : 0;
    }
  }
  return total > 0 ? static_cast<double>(held) / total : 0.0;
}

/// The shaft's frame on a bone mask: the largest elongated component's
/// axis, refined by the midpoints of its cross-sections. On a film with an
/// implant fixing a bone, that bone is the one of interest: when the
/// shaft found does not hold the implant (a plated forearm bone beside the
/// other), the frame refined from the implant's axis is taken if it does.
std::optional<ShaftFrame> shaftFrame(const cv::Mat& image, const cv::Mat& bone,
                                     const cv::Mat& metal, const RadiographAnalysisParameters& p) {
  const std::optional<ComponentAxis> initial = initialFrame(bone, metal, p);
  if (!initial) {
    return std::nullopt;
  }
  std::optional<ShaftFrame> frame = refineFrame(image, bone, metal, initial->frame);
  if (!initial->fixationFrame) {
    return frame;
  }
  const cv::Point offset = initial->fixationOffset;
  const double held = frame ? heldShare(*frame, initial->fixationMetal, offset, p) : 0.0;
  if (held >= p.implantOnBoneMinShare) {
    return frame;
  }
  const std::optional<ShaftFrame> onImplant =
      refineFrame(image, bone, metal, *initial->fixationFrame);
  if (onImplant) {
    const double heldThere = heldShare(*onImplant, initial->fixationMetal, offset, p);
    if (heldThere >= p.implantOnBoneMinShare && heldThere > held) {
      return onImplant;
    }
  }
  return frame;
}

/// The level of faint bone in the local contrast: boneBridgeLevel of the
/// bone's contrast above the soft tissue's (medians over the body, metal
/// left out). NaN when either is missing.
double faintBoneLevel(const TissueMaps& maps, const cv::Mat& bone, const cv::Mat& metal,
                      const RadiographAnalysisParameters& p) {
  const cv::Mat tissue = maps.body & (metal == 0);
  const double soft = percentile(maps.contrast, tissue & (bone == 0), 0.5);
  const double boneContrast = percentile(maps.contrast, tissue & bone, 0.5);
  if (std::isnan(soft) || std::isnan(boneContrast)) {
    return kNaN;
  }
  return soft + p.boneBridgeLevel * (boneContrast - soft);
}

/// The bone mask with its splits bridged: closed by a disc of
/// boneBridgeLimbShare of the limb's half-width, where the local contrast
/// stays above soft tissue by boneBridgeLevel of the bone's (medians over
/// the body, metal left out). The canal between two thin walls, still
/// bone in projection, is bridged; the soft tissue between two bones is
/// not.
cv::Mat bridgedBone(const TissueMaps& maps, const cv::Mat& bone, const cv::Mat& metal,
                    const RadiographAnalysisParameters& p) {
  const double level = faintBoneLevel(maps, bone, metal, p);
  if (std::isnan(level)) {
    return bone;
  }
  const int size =
      std::max(3, static_cast<int>(std::lround(p.boneBridgeLimbShare * maps.limbHalf))) | 1;
  cv::Mat closed;
  cv::morphologyEx(bone, closed, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(size, size)));
  closed &= (maps.contrast > level) | bone;
  return closed;
}

/// The bone with the faint bone connected to it, within `area`: the local
/// contrast above faintBoneLevel, in the components that hold bone. A
/// metaphysis' thin cortex and trabecular bone stand less above the soft
/// tissue than the shaft's cortex, and the bone level often leaves them
/// out; a faint region not touching the bone (soft tissue, a cast's weave)
/// is not taken. Outside `area` the mask is empty.
cv::Mat faintBoneReach(const TissueMaps& maps, const cv::Mat& bone, const cv::Mat& metal,
                       const cv::Rect& area, const RadiographAnalysisParameters& p) {
  cv::Mat reach = cv::Mat::zeros(bone.size(), CV_8U);
  const double level = faintBoneLevel(maps, bone, metal, p);
  if (std::isnan(level) || area.empty()) {
    bone(area).copyTo(reach(area));
    return reach;
  }
  const cv::Mat boneThere = bone(area);
  const cv::Mat candidates = (maps.contrast(area) > level) | boneThere;
  cv::Mat labels;
  const int count = cv::connectedComponents(candidates, labels, 8, CV_32S);
  std::vector<std::uint8_t> holdsBone(static_cast<std::size_t>(count), 0);
  for (int y = 0; y < area.height; ++y) {
    const std::uint8_t* b = boneThere.ptr<std::uint8_t>(y);
    const int* label = labels.ptr<int>(y);
    for (int x = 0; x < area.width; ++x) {
      if (b[x] != 0) {
        holdsBone[static_cast<std::size_t>(label[x])] = 255;
      }
    }
  }
  holdsBone[0] = 0;
  cv::Mat reachThere = reach(area);
  for (int y = 0; y < area.height; ++y) {
    const int* label = labels.ptr<int>(y);
    std::uint8_t* out = reachThere.ptr<std::uint8_t>(y);
    for (int x = 0; x < area.width; ++x) {
      out[x] = holdsBone[static_cast<std::size_t>(label[x])];
    }
  }
  return reach;
}

/// The frame lengthened along its axis as far as the faint bone goes on
/// across it (at least faintBoneMinWidthShare of the bone's width, up to
/// faintBoneMaxReachWidths widths past each end): the frame was sized to
/// the bone mask, which may end where the metaphysis turns faint. Only the
/// stretches past the frame's ends are resampled, and only the mask.
ShaftFrame reachingFaintBone(const cv::Mat& faint, const cv::Mat& metal, ShaftFrame frame,
                             const RadiographAnalysisParameters& p) {
  // A refined frame reaches twice the bone's width either side of its axis.
  const double boneWidth = 0.5 * frame.uHalf;
  const double beyond = std::round(p.faintBoneMaxReachWidths * boneWidth);
  if (beyond < 1) {
    return frame;
  }
  // How many rows of the stretch from sMin to sMax, counted from its last
  // row (step -1) or its first (+1), hold the faint bone without a break.
  const auto held = [&](double sMin, double sMax, int step) {
    ShaftFrame stretch = frame;
    stretch.sMin = sMin;
    stretch.sMax = sMax;
    const Edges e = boneEdges(straighten(cv::Mat(), faint, metal, stretch), stretch.uHalf);
    const int rows = static_cast<int>(e.left.size());
    int count = 0;
    for (int i = step < 0 ? rows - 1 : 0; i >= 0 && i < rows; i += step, ++count) {
      const auto k = static_cast<std::size_t>(i);
      if (std::isnan(e.left[k]) || e.width(k) < p.faintBoneMinWidthShare * boneWidth) {
        break;
      }
    }
    // (A stretch is at least 8 rows long.)
    return std::min<double>(count, beyond);
  };
  const double before = held(frame.sMin - beyond, frame.sMin, -1);
  const double after = held(frame.sMax, frame.sMax + beyond, 1);
  frame.sMin -= before;
  frame.sMax += after;
  return frame;
}

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

/// The rows where an implant fixes the bone: the metal components running
/// along the shaft for at least implantSpanMinLengthWidths shaft widths,
/// with most of their pixels over the bone or within
/// implantSpanBoneReachWidths of its edges (a nail in the canal, a plate on
/// the cortex; not a fixator's bar in the air or a plate on the neighbouring
/// bone) and reaching a shaft width into the searched rows (a bright tarsus
/// taken for metal lies beyond them); their span, less fixationEndZoneWidths
/// at each end. Empty when there is none. Needs the model's edges, width
/// and search rows.
std::optional<RowSpan> fixedRows(const Straightened& st, const ShaftModel& m,
                                 const RadiographAnalysisParameters& p) {
  if (st.metal.empty() || cv::countNonZero(st.metal) == 0) {
    return std::nullopt;
  }
  cv::Mat labels, stats, centroids;
  const int count = cv::connectedComponentsWithStats(st.metal, labels, stats, centroids, 8);
  std::vector<int> onBone(static_cast<std::size_t>(count), 0);
  const double reach = p.implantSpanBoneReachWidths * m.width;
  for (int i = 0; i < st.rows(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    const int* label = labels.ptr<int>(i);
    for (int j = 0; j < st.cols(); ++j) {
      if (label[j] > 0 && j >= m.edges.left[k] - reach && j <= m.edges.right[k] + reach) {
        ++onBone[static_cast<std::size_t>(label[j])];
      }
    }
  }
  std::optional<RowSpan> span;
  for (int c = 1; c < count; ++c) {
    const int top = stats.at<int>(c, cv::CC_STAT_TOP);
    const int height = stats.at<int>(c, cv::CC_STAT_HEIGHT);
    const int bottom = top + height - 1;
    const int searched = std::min(bottom, m.lastSearchRow) - std::max(top, m.firstSearchRow) + 1;
    if (height < p.implantSpanMinLengthWidths * m.width || searched < m.width ||
        onBone[static_cast<std::size_t>(c)] <
            p.implantOnBoneMinShare * stats.at<int>(c, cv::CC_STAT_AREA)) {
      continue;
    }
    span = span ? RowSpan{std::min(span->first, top), std::max(span->last, bottom)}
                : RowSpan{top, bottom};
  }
  if (!span) {
    return std::nullopt;
  }
  // A plate's outermost screws, a nail's end: the implant's own ends show
  // as lines, and a fracture is fixed by screws either side of it.
  const int endZone = static_cast<int>(std::lround(p.fixationEndZoneWidths * m.width));
  const RowSpan fixed{span->first + endZone, span->last - endZone};
  return fixed.first <= fixed.last ? std::optional<RowSpan>(fixed) : std::nullopt;
}

std::vector<double> filledGaps(std::vector<double> v) {
  // Linear interpolation across NaN runs; ends keep the nearest value.
  const auto n = v.size();
  std::size_t i = 0;
  while (i < n) {
    if (!std::isnan(v[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && std::isnan(v[j])) {
      ++j;
    }
    const double a = i > 0 ? v[i - 1] : (j < n ? v[j] : 0.0);
    const double b = j < n ? v[j] : a;
    for (std::size_t k = i; k < j; ++k) {
      const double t = (static_cast<double>(k - i) + 1.0) / (static_cast<double>(j - i) + 1.0);
      v[k] = a + (b - a) * t;
    }
    i = j;
  }
  return v;
}

/// The outer cortical edges as the two smoothest strongest edge paths along
/// the shaft (dynamic programming, at most two columns of drift per row):
/// the left edge rises in brightness going right, the right edge falls. The
/// search stays within the band the bone mask suggests, and ignores the
/// edges of metal (a plate or a nail is not cortex).
Edges trackedEdges(const Straightened& st, const Edges& maskEdges, double width) {
  cv::Mat smooth;
  cv::GaussianBlur(st.image, smooth, cv::Size(), 1.2);
  cv::Mat gradient;
  cv::Sobel(smooth, gradient, CV_32F, 1, 0, 3, 1.0 / 8.0);
  cv::Mat metalZone;
  cv::dilate(st.metal, metalZone, cv::Mat(), cv::Point(-1, -1), 3);
  const int rows = st.rows();
  const int cols = st.cols();
  const double centre = st.frame.uHalf;
  Edges e;
  for (int side = 0; side < 2; ++side) {
    const double sign = side == 0 ? 1.0 : -1.0;
    // Search band: from a sixth of the width inside the axis out to 0.85
    // widths from it, where the bone mask's edge is.
    const int lo = side == 0 ? std::max(0, static_cast<int>(centre - 0.85 * width))
                             : static_cast<int>(centre + 0.15 * width);
    const int hi = side == 0 ? static_cast<int>(centre - 0.15 * width)
                             : std::min(cols - 1, static_cast<int>(centre + 0.85 * width));
    const int span = hi - lo + 1;
    if (span < 3) {
      e.left.assign(static_cast<std::size_t>(rows), kNaN);
      e.right.assign(static_cast<std::size_t>(rows), kNaN);
      return e;
    }
    std::vector<float> strength(static_cast<std::size_t>(rows) * span, 0.0F);
    double total = 0;
    std::vector<float> rowPeaks;
    for (int i = 0; i < rows; ++i) {
      float peak = 0;
      for (int j = lo; j <= hi; ++j) {
        const float g = static_cast<float>(sign) * gradient.at<float>(i, j);
        const float value = metalZone.at<std::uint8_t>(i, j) != 0 ? 0.0F : std::max(0.0F, g);
        strength[static_cast<std::size_t>(i) * span + (j - lo)] = value;
        total += value;
        peak = std::max(peak, value);
      }
      rowPeaks.push_back(peak);
    }
    // A plate on the cortex hides the cortex's outer edge under its rim: the
    // bone ends where the plate begins. Where the bone meets metal that has
    // soft tissue beyond it (a plate, not a nail in the canal with cortex
    // beyond), that border counts as an edge of typical strength.
    std::nth_element(rowPeaks.begin(), rowPeaks.begin() + rowPeaks.size() / 2, rowPeaks.end());
    const float typicalEdge = rowPeaks.empty() ? 0.0F : rowPeaks[rowPeaks.size() / 2];
    const int outward = side == 0 ? -1 : 1;
    for (int i = 0; i < rows; ++i) {
      const std::uint8_t* zone = metalZone.ptr<std::uint8_t>(i);
      const std::uint8_t* bone = st.bone.ptr<std::uint8_t>(i);
      for (int j = lo; j <= hi; ++j) {
        if (zone[j] != 0 || bone[j] == 0 || j + outward < 0 || j + outward >= cols ||
            zone[j + outward] == 0) {
          continue;
        }
        int beyond = j + outward;
        while (beyond >= 0 && beyond < cols && zone[beyond] != 0) {
          beyond += outward;
        }
        if (beyond >= 0 && beyond < cols && bone[beyond] == 0) {
          float& value = strength[static_cast<std::size_t>(i) * span + (j - lo)];
          total += std::max(0.0F, typicalEdge - value);
          value = std::max(value, typicalEdge);
        }
      }
    }
    // A small pull toward the mask's edge keeps the path on the bone of
    // interest where its own edge is faint.
    const double meanStrength = total / (static_cast<double>(rows) * span) + 1e-9;
    const std::vector<double>& prior = side == 0 ? maskEdges.left : maskEdges.right;
    std::vector<double> score(static_cast<std::size_t>(span)), next(score.size());
    std::vector<int> from(static_cast<std::size_t>(rows) * span, 0);
    for (int i = 0; i < rows; ++i) {
      for (int j = 0; j < span; ++j) {
        double best = i == 0 ? 0.0 : -1e300;
        int arg = j;
        if (i > 0) {
          for (int d = -2; d <= 2; ++d) {
            const int k = j + d;
            if (k < 0 || k >= span) {
              continue;
            }
            const double candidate =
                score[static_cast<std::size_t>(k)] - 0.3 * meanStrength * d * d;
            if (candidate > best) {
              best = candidate;
              arg = k;
            }
          }
        }
        const double pull =
            std::isnan(prior[static_cast<std::size_t>(i)])
                ? 0.0
                : -0.5 * meanStrength *
                      std::min(1.0, std::abs(lo + j - prior[static_cast<std::size_t>(i)]) /
                                        (0.3 * width));
        next[static_cast<std::size_t>(j)] =
            best + strength[static_cast<std::size_t>(i) * span + j] + pull;
        from[static_cast<std::size_t>(i) * span + j] = arg;
      }
      score.swap(next);
    }
    std::vector<double> path(static_cast<std::size_t>(rows), kNaN);
    int j = static_cast<int>(std::max_element(score.begin(), score.end()) - score.begin());
    for (int i = rows - 1; i >= 0; --i) {
      // The edge sits half a pixel outside the steepest step.
      path[static_cast<std::size_t>(i)] = lo + j + (side == 0 ? -0.5 : 0.5);
      j = from[static_cast<std::size_t>(i) * span + j];
    }
    (side == 0 ? e.left : e.right) = std::move(path);
  }
  return e;
}

std::optional<ShaftModel> modelShaft(const Straightened& st,
                                     const RadiographAnalysisParameters& p) {
  ShaftModel m;
  const Edges mask = boneEdges(st, st.frame.uHalf);
  std::vector<double> maskWidths(mask.left.size());
  for (std::size_t i = 0; i < maskWidths.size(); ++i) {
    maskWidths[i] = mask.width(i);
  }
  const double maskWidth = median(medianFiltered(maskWidths, 4));
  if (std::isnan(maskWidth) || maskWidth < 4) {
    return std::nullopt;
  }
  const Edges raw = trackedEdges(st, mask, maskWidth);
  std::vector<double> widths(raw.left.size());
  for (std::size_t i = 0; i < widths.size(); ++i) {
    widths[i] = raw.width(i);
  }
  const std::vector<double> smooth = medianFiltered(widths, 4);
  m.width = median(smooth);
  if (std::isnan(m.width) || m.width < 4) {
    return std::nullopt;
  }
  // Rows whose edges jump away from their neighbours (a fragment, the fibula
  // touching) are dropped and bridged by interpolation.
  const std::vector<double> leftMed = medianFiltered(raw.left, 4);
  const std::vector<double> rightMed = medianFiltered(raw.right, 4);
  m.edges.left = raw.left;
  m.edges.right = raw.right;
  for (std::size_t i = 0; i < widths.size(); ++i) {
    if (std::isnan(raw.left[i]) || std::abs(raw.left[i] - leftMed[i]) > 0.15 * m.width ||
        std::abs(raw.right[i] - rightMed[i]) > 0.15 * m.width) {
      m.edges.left[i] = kNaN;
      m.edges.right[i] = kNaN;
    }
  }
  m.edges.left = filledGaps(m.edges.left);
  m.edges.right = filledGaps(m.edges.right);
  // Diaphysis: the longest run of rows whose bone-mask width stays near the
  // shaft's (the median over the middle half of the bone), extended into
  // each metaphysis while it flares moderately (distal-third fractures sit
  // there), stopping short of the joint.
  const int n = static_cast<int>(widths.size());
  const std::vector<double> maskSmooth = medianFiltered(maskWidths, 4);
  std::vector<double> middle(maskSmooth.begin() + n / 4, maskSmooth.begin() + 3 * n / 4);
  const double shaftMaskWidth = median(middle);
  if (std::isnan(shaftMaskWidth)) {
    return std::nullopt;
  }
  const auto within = [&](int i, double factor) {
    const double w = maskSmooth[static_cast<std::size_t>(i)];
    return !std::isnan(w) && w < factor * shaftMaskWidth && w > 0.5 * shaftMaskWidth;
  };
  // The longest run of rows that are shaft or moderately flaring
  // metaphysis (distal-third fractures sit there), with short gaps allowed:
  // a fracture's own gap or displacement must not cut the shaft in two.
  int bestFirst = 0, bestLast = -1;
  const int allowedGap = std::max(2, static_cast<int>(0.5 * m.width));
  for (int i = 0; i < n;) {
    if (!within(i, p.shaftFlareFactor)) {
      ++i;
      continue;
    }
    int j = i, gap = 0, end = i;
    while (j < n && gap <= allowedGap) {
      if (within(j, p.shaftFlareFactor)) {
        end = j;
        gap = 0;
      } else {
        ++gap;
      }
      ++j;
    }
    if (end - i > bestLast - bestFirst) {
      bestFirst = i;
      bestLast = end;
    }
    i = end + 1;
  }
  if (bestLast < bestFirst) {
    return std::nullopt;
  }
  int first = bestFirst, last = bestLast;
  const int endMargin = static_cast<int>(std::lround(0.3 * m.width));
  // Rows whose cross-section leaves the image (the bone cut by the film's
  // edge) show the border, not the bone.
  const cv::Size imageSize = st.imageSize;
  const auto insideImage = [&](int i) {
    const auto k = static_cast<std::size_t>(i);
    const double margin = 0.3 * m.width;
    for (double column : {m.edges.left[k] - margin, m.edges.right[k] + margin}) {
      const cv::Point2d q = st.working(i, column);
      if (q.x < 0 || q.y < 0 || q.x > imageSize.width - 1 || q.y > imageSize.height - 1) {
        return false;
      }
    }
    return true;
  };
  while (first < last && !insideImage(first)) {
    ++first;
  }
  while (last > first && !insideImage(last)) {
    --last;
  }
  m.firstShaftRow = std::min(n - 1, first + endMargin);
  m.lastShaftRow = std::max(m.firstShaftRow, last - endMargin);
  // The fracture search goes on into each metaphysis (distal tibia and
  // radius fractures lie there) while the bone stays moderately wide and
  // inside the image, and stops a shaft width short of where the bone ends
  // or flares into its joint: the joint line is no fracture. Where the
  // bone mask ends early (a faint metaphysis), the faint bone connected to
  // it carries the search on while it stays under faintBoneFlareFactor of
  // its own width along the diaphysis (the faint mask takes in some soft
  // tissue at the edges, and the joint's bones beyond: it is held to a
  // tighter flare).
  std::vector<double> faintWidths;
  double faintShaftWidth = kNaN;
  if (!st.faint.empty()) {
    Straightened faint = st;
    faint.bone = st.faint;
    const Edges faintEdges = boneEdges(faint, st.frame.uHalf);
    faintWidths.resize(faintEdges.left.size());
    for (std::size_t i = 0; i < faintWidths.size(); ++i) {
      faintWidths[i] = faintEdges.width(i);
    }
    faintWidths = medianFiltered(faintWidths, 4);
    faintShaftWidth =
        median(std::vector<double>(faintWidths.begin() + first, faintWidths.begin() + last + 1));
  }
  const auto faintWithin = [&](int i) {
    if (std::isnan(faintShaftWidth)) {
      return false;
    }
    const double w = faintWidths[static_cast<std::size_t>(i)];
    return !std::isnan(w) && w < p.faintBoneFlareFactor * faintShaftWidth &&
           w > 0.5 * faintShaftWidth;
  };
  const auto metaphysisEnd = [&](int from, int step) {
    int i = from;
    for (int next = from + step; next >= 0 && next < n; next += step) {
      if (!(within(next, p.metaphysisFlareFactor) || faintWithin(next)) || !insideImage(next)) {
        break;
      }
      i = next;
    }
    return i - step * static_cast<int>(std::lround(p.jointMarginWidths * m.width));
  };
  m.firstSearchRow = std::clamp(metaphysisEnd(first, -1), 0, m.firstShaftRow);
  m.lastSearchRow = std::clamp(metaphysisEnd(last, 1), m.lastShaftRow, n - 1);
  // Where the film's edge cuts the shaft, the line evidence's windows (up
  // to 0.8 widths along the shaft) and a slanted line would reach past the
  // edge into the border: the search stops further from it.
  const int filmEdgeMargin = static_cast<int>(std::lround(p.filmEdgeMarginWidths * m.width));
  if (first == 0 || !insideImage(first - 1)) {
    m.firstSearchRow = std::max(m.firstSearchRow, first + filmEdgeMargin);
  }
  if (last == n - 1 || !insideImage(last + 1)) {
    m.lastSearchRow = std::min(m.lastSearchRow, last - filmEdgeMargin);
  }
  // An implant fixing the bone spans its fracture, which may lie where the
  // plate and its screws widen the bone mask past the metaphysis' limit:
  // the search reaches as far as the implant holds the bone, and as far
  // from the film's edge as above.
  m.fixed = fixedRows(st, m, p);
  if (m.fixed) {
    // The furthest row from `from` toward `to` (step -1 or +1) that stays
    // filmEdgeMargin rows from the first row outside the image (the
    // strip's end counts as outside).
    const auto reachable = [&](int from, int to, int step) {
      for (int distance = 0; distance <= step * (to - from) + filmEdgeMargin; ++distance) {
        const int i = from + step * distance;
        if (i < 0 || i >= n || !insideImage(i)) {
          const int limit = i - step * (filmEdgeMargin + 1);
          return step < 0 ? std::max(to, limit) : std::min(to, limit);
        }
      }
      return to;
    };
    m.firstSearchRow = std::min(m.firstSearchRow, reachable(m.firstSearchRow, m.fixed->first, -1));
    m.lastSearchRow = std::max(m.lastSearchRow, reachable(m.lastSearchRow, m.fixed->last, 1));
  }
  if (m.firstSearchRow > m.lastSearchRow) {
    return std::nullopt;
  }
  // Levels: intact cortex (bright band just inside the edges) and the soft
  // tissue just outside, over the shaft rows.
  std::vector<double> cortexValues, softValues;
  for (int i = m.firstShaftRow; i <= m.lastShaftRow; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const float* row = st.image.ptr<float>(i);
    const std::uint8_t* metal = st.metal.ptr<std::uint8_t>(i);
    for (int side = 0; side < 2; ++side) {
      const double edge = side == 0 ? m.edges.left[k] : m.edges.right[k];
      const double inward = side == 0 ? 1 : -1;
      double best = -1;
      for (double d = 1; d <= 0.2 * m.width; d += 1) {
        const int j = static_cast<int>(std::lround(edge + inward * d));
        if (j >= 0 && j < st.cols() && metal[j] == 0) {
          best = std::max(best, static_cast<double>(row[j]));
        }
      }
      if (best >= 0) {
        cortexValues.push_back(best);
      }
      const int out = static_cast<int>(std::lround(edge - inward * 0.35 * m.width));
      if (out >= 0 && out < st.cols() && metal[out] == 0) {
        softValues.push_back(row[out]);
      }
    }
  }
  m.cortex = median(cortexValues);
  // The lower quartile: the other long bone may lie next to one side.
  if (!softValues.empty()) {
    std::sort(softValues.begin(), softValues.end());
    m.soft = softValues[softValues.size() / 4];
  }
  if (std::isnan(m.cortex) || m.cortex <= m.soft) {
    return std::nullopt;
  }
  return m;
}

/// Pixels a fracture line cannot show in: metal, and bone denser than the
/// intact cortex by lineHiddenDensity of its contrast (metal the metal mask
/// missed, such as screws across thin bone; bones overlapping at a joint).
cv::Mat lineHiddenPixels(const Straightened& st, const ShaftModel& m,
                         const RadiographAnalysisParameters& p) {
  cv::Mat hidden = st.image > m.cortex + p.lineHiddenDensity * m.contrast();
  hidden |= st.metal;
  return hidden;
}

/// Metal (or other pixels hiding the line: see lineHiddenPixels) and the
/// halo its blur leaves around it in the straightened image, where the line
/// evidence is not measured. The halo reaches further along
/// the shaft than across it: beside a screw crossing the shaft, the tissue
/// just past its halo reads as a valley, and as a change along the shaft,
/// against the halo.
cv::Mat haloZone(const cv::Mat& hidden, const ShaftModel& m) {
  const int alongHalo = std::max(3, static_cast<int>(std::lround(0.06 * m.width)));
  cv::Mat zone;
  cv::dilate(hidden, zone,
             cv::getStructuringElement(cv::MORPH_RECT, cv::Size(7, 2 * alongHalo + 1)));
  return zone;
}

/// Dark-line response: how much darker a pixel is than the pixels a few
/// rows above and below it (a fracture crosses the shaft), in shares of the
/// cortex contrast; zero outside the bone's span (leftEdge to rightEdge per row)
/// and in the zone around what hides the line (haloZone).
cv::Mat valleyResponse(const Straightened& st, const ShaftModel& m, const cv::Mat& hiddenZone,
                       const std::vector<double>& leftEdge, const std::vector<double>& rightEdge) {
  cv::Mat smooth;
  cv::GaussianBlur(st.image, smooth, cv::Size(), 1.0);
  cv::Mat v = cv::Mat::zeros(st.image.size(), CV_32F);
  // From a crack to a gap of an eighth of the shaft's width (a few mm).
  const std::array<int, 3> scales{std::max(2, static_cast<int>(std::lround(0.03 * m.width))),
                                  std::max(3, static_cast<int>(std::lround(0.06 * m.width))),
                                  std::max(4, static_cast<int>(std::lround(0.12 * m.width)))};
  for (int i = 0; i < st.rows(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    const int l = static_cast<int>(std::ceil(leftEdge[k]));
    const int r = static_cast<int>(std::floor(rightEdge[k]));
    for (int j = std::max(0, l); j < std::min(st.cols(), r); ++j) {
      if (hiddenZone.at<std::uint8_t>(i, j) != 0) {
        continue;
      }
      double best = 0;
      for (int d : scales) {
        if (i - d < 0 || i + d >= st.rows() || hiddenZone.at<std::uint8_t>(i - d, j) != 0 ||
            hiddenZone.at<std::uint8_t>(i + d, j) != 0) {
          continue;
        }
        // Both neighbours brighter: a valley, not a step.
        const double up = smooth.at<float>(i - d, j) - smooth.at<float>(i, j);
        const double down = smooth.at<float>(i + d, j) - smooth.at<float>(i, j);
        best = std::max(best, std::min(up, down));
      }
      v.at<float>(i, j) = static_cast<float>(best / m.contrast());
    }
  }
  return v;
}

/// How unlike the shaft above and below it each pixel is: the intact shaft
/// changes slowly along its length, a fracture (gap, overlap, step) does not.
/// The absolute difference from the mean of two windows a little above and
/// below, in shares of the cortex contrast; zero in the zone around what
/// hides the line (haloZone: metal, and bone denser than the cortex). The
/// windows leave that zone out too: next to a plate's or a screw's end the
/// window would otherwise average the implant in, and the implant's end
/// would look like the fracture.
cv::Mat shaftAnomaly(const Straightened& st, const ShaftModel& m, const cv::Mat& hiddenZone) {
  const int reach = std::max(4, static_cast<int>(std::lround(0.8 * m.width)));
  const int skip = std::max(2, static_cast<int>(std::lround(0.1 * m.width)));
  cv::Mat smooth;
  cv::GaussianBlur(st.image, smooth, cv::Size(), 1.0);
  // Column-wise prefix sums of the metal-free pixels and of their count
  // give window means in constant time.
  cv::Mat sums(st.rows() + 1, st.cols(), CV_64F, cv::Scalar(0));
  cv::Mat counts(st.rows() + 1, st.cols(), CV_32S, cv::Scalar(0));
  for (int i = 0; i < st.rows(); ++i) {
    for (int j = 0; j < st.cols(); ++j) {
      const bool free = hiddenZone.at<std::uint8_t>(i, j) == 0;
      sums.at<double>(i + 1, j) = sums.at<double>(i, j) + (free ? smooth.at<float>(i, j) : 0.0);
      counts.at<int>(i + 1, j) = counts.at<int>(i, j) + (free ? 1 : 0);
    }
  }
  // Rows [from, to); NaN when metal fills most of the window.
  const auto windowMean = [&](int from, int to, int j) {
    from = std::clamp(from, 0, st.rows());
    to = std::clamp(to, 0, st.rows());
    const int count = to > from ? counts.at<int>(to, j) - counts.at<int>(from, j) : 0;
    if (count == 0 || 2 * count < to - from) {
      return kNaN;
    }
    return (sums.at<double>(to, j) - sums.at<double>(from, j)) / count;
  };
  cv::Mat out = cv::Mat::zeros(st.image.size(), CV_32F);
  for (int i = 0; i < st.rows(); ++i) {
    for (int j = 0; j < st.cols(); ++j) {
      if (hiddenZone.at<std::uint8_t>(i, j) != 0) {
        continue;
      }
      const double above = windowMean(i - reach, i - skip, j);
      const double below = windowMean(i + skip + 1, i + reach + 1, j);
      if (std::isnan(above) || std::isnan(below)) {
        continue;
      }
      out.at<float>(i, j) = static_cast<float>(
          std::abs(smooth.at<float>(i, j) - 0.5 * (above + below)) / m.contrast());
    }
  }
  return out;
}

/// Outer edge per row at the callus threshold: walking outward from the
/// bone edge while tissue stays above the callus level (bounded).
std::array<std::vector<double>, 2> callusEdges(const Straightened& st, const ShaftModel& m,
                                               const RadiographAnalysisParameters& p) {
  std::array<std::vector<double>, 2> out;
  const double level = m.soft + p.callusContrast * m.contrast();
  const int reach = static_cast<int>(std::lround(0.6 * m.width));
  for (int side = 0; side < 2; ++side) {
    auto& edge = out[static_cast<std::size_t>(side)];
    edge.assign(static_cast<std::size_t>(st.rows()), kNaN);
    const int outward = side == 0 ? -1 : 1;
    for (int i = 0; i < st.rows(); ++i) {
      const auto k = static_cast<std::size_t>(i);
      const double start = side == 0 ? m.edges.left[k] : m.edges.right[k];
      const float* row = st.image.ptr<float>(i);
      const std::uint8_t* metal = st.metal.ptr<std::uint8_t>(i);
      int j = static_cast<int>(std::lround(start));
      int lastAbove = j;
      for (int step = 0; step < reach; ++step) {
        const int jj = j + outward * step;
        // A screw's head or a plate beside the bone is no callus.
        if (jj < 0 || jj >= st.cols() || (step > 0 && metal[jj] != 0)) {
          break;
        }
        if (row[jj] >= level) {
          lastAbove = jj;
        } else if (std::abs(jj - lastAbove) > 2) {
          break;
        }
      }
      edge[k] = lastAbove + (side == 0 ? 0.0 : 1.0);
    }
  }
  return out;
}

struct FractureCandidate {
  double row = 0;   ///< where the line crosses the centre of its span
  double slope = 0; ///< rows per column
  /// The bone's span (columns) on that row the line was searched across.
  double left = 0, right = 0;
  double score = 0;
  double confidence = 0;
};

FractureCandidate locateFracture(const Straightened& st, const ShaftModel& m,
                                 const std::array<std::vector<double>, 2>& callus,
                                 const RadiographAnalysisParameters& p) {
  const cv::Mat hidden = lineHiddenPixels(st, m, p);
  const cv::Mat hiddenZone = haloZone(hidden, m);
  const cv::Mat anomaly = shaftAnomaly(st, m, hiddenZone);
  const int n = st.rows();
  const int trendWindow = std::max(3, static_cast<int>(2 * m.width));
  const std::array<std::vector<double>, 2> callusTrend{medianFiltered(callus[0], trendWindow),
                                                       medianFiltered(callus[1], trendWindow)};
  // The bone's span per row, from the edges' course along the shaft: at a
  // gap the traced edge dives into the notch the fracture leaves in the
  // cortex, and the row's own span would leave out the very cortex the
  // line crosses (beside a plate seen en face, all the bone there is).
  const int spanWindow = static_cast<int>(std::lround(p.fractureSpanWindowWidths * m.width));
  const std::vector<double> leftEdge =
      spanWindow > 0 ? medianFiltered(m.edges.left, spanWindow) : m.edges.left;
  const std::vector<double> rightEdge =
      spanWindow > 0 ? medianFiltered(m.edges.right, spanWindow) : m.edges.right;
  const cv::Mat valley = valleyResponse(st, m, hiddenZone, leftEdge, rightEdge);
  // Per row: the line evidence, and the score it is taken by (the evidence
  // weighted beyond where an implant holds the bone).
  std::vector<double> evidence(static_cast<std::size_t>(n), 0.0), score(evidence.size(), 0.0),
      slopeAt(evidence.size(), 0.0);
  // An implant fixing the bone spans its fracture: a plate is centred on
  // it, a nail locked beyond it at both ends. Past where it holds the bone
  // lie the implant's own ends and the joints, whose edges show as lines,
  // but not the fracture (the default weight there is 0).
  const auto unfixed = [&m](int i) { return m.fixed && !m.fixed->contains(i); };
  const std::array<double, 13> slopes{-1.2, -1.0, -0.8, -0.6, -0.4, -0.2, 0.0,
                                      0.2,  0.4,  0.6,  0.8,  1.0,  1.2};
  for (int i = m.firstSearchRow; i <= m.lastSearchRow; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double l = leftEdge[k];
    const double r = rightEdge[k];
    const double c = 0.5 * (l + r);
    // The bone the line can show on: beside a nail, only the cortices.
    int visible = 0;
    for (int j = static_cast<int>(std::ceil(l)); j < static_cast<int>(r); ++j) {
      visible += j >= 0 && j < st.cols() && hidden.at<std::uint8_t>(i, j) == 0 ? 1 : 0;
    }
    double best = 0;
    const double band = p.fractureEdgeBandShare * (r - l);
    for (double t : slopes) {
      double sum = 0;
      int count = 0;
      std::array<double, 2> bandSum{};
      std::array<int, 2> bandCount{};
      for (int j = static_cast<int>(std::ceil(l)); j < static_cast<int>(r); ++j) {
        const int row = static_cast<int>(std::lround(i + t * (j - c)));
        if (row < 0 || row >= n) {
          continue;
        }
        // Beside a nail only the cortices show the line.
        if (hidden.at<std::uint8_t>(row, j) != 0) {
          continue;
        }
        // A thin line may sit a row off the sampled one.
        float v = valley.at<float>(row, j);
        if (row > 0) {
          v = std::max(v, valley.at<float>(row - 1, j));
        }
        if (row + 1 < n) {
          v = std::max(v, valley.at<float>(row + 1, j));
        }
        sum += v;
        ++count;
        const int side = j < l + band ? 0 : (j > r - band ? 1 : -1);
        if (side >= 0) {
          bandSum[static_cast<std::size_t>(side)] += v;
          ++bandCount[static_cast<std::size_t>(side)];
        }
      }
      // Averaged over the bone the line can show on, which must be a fair
      // part of what metal leaves visible, and a fair part of the width.
      double mean = count >= 0.3 * visible && count >= 0.15 * (r - l) ? sum / count : 0.0;
      // An oblique fracture seen obliquely shows as an ellipse: its arcs
      // leave the straight line in the middle of the shaft, but both
      // profile cortices (the ones RUST reads) are cut where the line
      // crosses them. The weaker of the two edge bands counts too.
      if (bandCount[0] >= 0.5 * band && bandCount[1] >= 0.5 * band) {
        mean = std::max(mean, std::min(bandSum[0] / bandCount[0], bandSum[1] / bandCount[1]));
      }
      if (mean > best) {
        best = mean;
        slopeAt[k] = t;
      }
    }
    // Callus bulges out of the shaft where the fracture heals: the callus
    // edge stands out of its own course along the shaft.
    double bulge = 0;
    for (int side = 0; side < 2; ++side) {
      const double outward = side == 0 ? -1.0 : 1.0;
      bulge += std::max(0.0, outward * (callus[static_cast<std::size_t>(side)][k] -
                                        callusTrend[static_cast<std::size_t>(side)][k])) /
               m.width;
    }
    double unusual = 0;
    int counted = 0;
    for (int j = static_cast<int>(std::ceil(l)); j < static_cast<int>(r); ++j) {
      if (j >= 0 && j < st.cols()) {
        unusual += anomaly.at<float>(i, j);
        ++counted;
      }
    }
    unusual = counted > 0 ? unusual / counted : 0.0;
    // Metaphyseal rows count less: trabecular texture shows faint lines too,
    // so a shaft line wins a close call.
    const bool metaphysis = i < m.firstShaftRow || i > m.lastShaftRow;
    evidence[k] = (best + 0.25 * bulge + unusual) * (metaphysis ? p.metaphysisEvidenceWeight : 1.0);
    score[k] = evidence[k] * (unfixed(i) ? p.beyondFixationEvidenceWeight : 1.0);
  }
  // Smooth a little along the shaft and take the peak, among the rows that
  // can hold it.
  const auto smoothed = [n](const std::vector<double>& v) {
    std::vector<double> out(v.size(), 0.0);
    const int h = 2;
    for (int i = 0; i < n; ++i) {
      double sum = 0;
      int count = 0;
      for (int d = -h; d <= h; ++d) {
        if (i + d >= 0 && i + d < n) {
          sum += v[static_cast<std::size_t>(i + d)];
          ++count;
        }
      }
      out[static_cast<std::size_t>(i)] = sum / count;
    }
    return out;
  };
  const std::vector<double> smooth = smoothed(score);
  FractureCandidate best;
  int bestRow = -1;
  for (int i = m.firstSearchRow; i <= m.lastSearchRow; ++i) {
    if (unfixed(i) && p.beyondFixationEvidenceWeight <= 0) {
      continue;
    }
    if (bestRow < 0 || smooth[static_cast<std::size_t>(i)] > best.score) {
      best.score = smooth[static_cast<std::size_t>(i)];
      bestRow = i;
    }
  }
  if (bestRow < 0) {
    return best;
  }
  best.row = bestRow;
  best.slope = slopeAt[static_cast<std::size_t>(bestRow)];
  best.left = leftEdge[static_cast<std::size_t>(bestRow)];
  best.right = rightEdge[static_cast<std::size_t>(bestRow)];
  // Confidence: how far the peak stands above the strongest response away
  // from it (a second fracture or a nutrient canal), beyond the implant's
  // hold too: a joint line there is as line-like, though not the fracture.
  // Without an implant's hold the two are the same.
  const std::vector<double> smoothEvidence = m.fixed ? smoothed(evidence) : std::vector<double>();
  const std::vector<double>& rivals = m.fixed ? smoothEvidence : smooth;
  double second = 0;
  for (int i = m.firstSearchRow; i <= m.lastSearchRow; ++i) {
    if (std::abs(i - bestRow) > m.width) {
      second = std::max(second, rivals[static_cast<std::size_t>(i)]);
    }
  }
  best.confidence = best.score > 0 ? std::clamp(1.0 - second / best.score, 0.0, 1.0) : 0.0;
  return best;
}

/// The intact outer edge of one side: a robust line through the edge rows
/// away from the fracture, so callus the bone mask took in does not move it.
Line intactEdge(const ShaftModel& m, int side, double fractureRow) {
  const std::vector<double>& edges = side == 0 ? m.edges.left : m.edges.right;
  std::vector<double> s, e;
  const int reach = static_cast<int>(std::lround(4 * m.width));
  const double skip = 1.5 * m.width;
  for (int i = static_cast<int>(fractureRow) - reach; i <= static_cast<int>(fractureRow) + reach;
       ++i) {
    if (i < m.firstShaftRow || i > m.lastShaftRow || std::abs(i - fractureRow) < skip) {
      continue;
    }
    s.push_back(i);
    e.push_back(edges[static_cast<std::size_t>(i)]);
  }
  const auto row = static_cast<std::size_t>(
      std::clamp(static_cast<int>(fractureRow), m.firstShaftRow, m.lastShaftRow));
  if (s.empty()) {
    return Line{edges[row], 0.0};
  }
  // The straightened shaft runs down the columns: a slope needs the edge on
  // both sides of the fracture, else the level beside it will do; and a fit
  // far from the edge's own level (a screw's bulge at one end) is not the
  // intact edge either.
  const Line level{median(e), 0.0};
  const bool bothSides = s.front() < fractureRow && s.back() > fractureRow;
  const std::optional<Line> fit = bothSides ? robustLineFit(s, e) : std::nullopt;
  if (!fit || std::abs(fit->at(fractureRow) - level.a) > 0.15 * m.width) {
    return level;
  }
  return *fit;
}

/// A cortex's gap: its row, and how deep a dip of the cortex band it is (in
/// shares of the cortex's contrast; 0 where none was found).
struct CortexGap {
  double row = 0;
  double dip = 0;
};

/// Where the fracture crosses this side's cortex: the deepest dip of the
/// cortex band's mean along the shaft, within `window` rows of where the line
/// found across the whole shaft meets this side. An oblique plane seen
/// nearly en face shows an ellipse, and a line through the shaft fits one of
/// its arcs; each cortex's own gap sits where the ellipse meets its edge.
CortexGap cortexGap(const Straightened& st, const ShaftModel& m, const Line& edge, int side,
                    double expectedRow, double window) {
  const int outward = side == 0 ? -1 : 1;
  const double band = std::max(2.0, 0.22 * m.width);
  const int shoulder = std::max(3, static_cast<int>(std::lround(0.15 * m.width)));
  const int from = std::max(0, static_cast<int>(std::floor(expectedRow - window)) - shoulder);
  const int to =
      std::min(st.rows() - 1, static_cast<int>(std::ceil(expectedRow + window)) + shoulder);
  if (to - from < 2 * shoulder + 1) {
    return {expectedRow, 0.0};
  }
  std::vector<double> mean(static_cast<std::size_t>(to - from + 1), kNaN);
  for (int i = from; i <= to; ++i) {
    const double e = edge.at(i);
    double sum = 0;
    int count = 0;
    for (int j = static_cast<int>(std::lround(e - outward * band)); outward * (j - e) <= 0;
         j += outward) {
      if (j >= 0 && j < st.cols() && st.metal.at<std::uint8_t>(i, j) == 0) {
        sum += st.image.at<float>(i, j);
        ++count;
      }
    }
    if (count > 0) {
      mean[static_cast<std::size_t>(i - from)] = sum / count;
    }
  }
  CortexGap gap{expectedRow, 0.0};
  double best = -1e9;
  for (int i = from + shoulder; i <= to - shoulder; ++i) {
    const double centre = mean[static_cast<std::size_t>(i - from)];
    if (std::isnan(centre) || std::abs(i - expectedRow) > window) {
      continue;
    }
    double up = kNaN, down = kNaN;
    for (int d = 1; d <= shoulder; ++d) {
      const double a = mean[static_cast<std::size_t>(i - d - from)];
      const double b = mean[static_cast<std::size_t>(i + d - from)];
      up = std::isnan(up) ? a : std::max(up, std::isnan(a) ? up : a);
      down = std::isnan(down) ? b : std::max(down, std::isnan(b) ? down : b);
    }
    if (std::isnan(up) || std::isnan(down)) {
      continue;
    }
    // A dip, not a step: both shoulders brighter; prefer the nearer of two
    // equal dips.
    const double dip = std::min(up, down) - centre;
    const double score = dip / m.contrast() - 0.02 * std::abs(i - expectedRow) / window;
    if (score > best) {
      best = score;
      gap = {static_cast<double>(i), dip / m.contrast()};
    }
  }
  return gap;
}

/// This side's gap near where the line meets it (cortexGapWindowWidths) or,
/// with no dip of cortexGapMinDip there, a dip that deep further along the
/// shaft (cortexGapFarWindowWidths): an oblique cleft seen obliquely crosses
/// its two profile cortices up to a shaft width apart along the shaft,
/// further than the line through the middle reaches.
double cortexGapRow(const Straightened& st, const ShaftModel& m, const Line& edge, int side,
                    double expectedRow, const RadiographAnalysisParameters& p) {
  const CortexGap near =
      cortexGap(st, m, edge, side, expectedRow, p.cortexGapWindowWidths * m.width);
  if (near.dip >= p.cortexGapMinDip) {
    return near.row;
  }
  const CortexGap further =
      cortexGap(st, m, edge, side, expectedRow, p.cortexGapFarWindowWidths * m.width);
  return further.dip >= p.cortexGapMinDip ? further.row : near.row;
}

/// The level along the shaft at a given offset from the edge, away from the
/// fracture: the median above and the median below the gap joined by a line
/// (one side's median alone when the film shows only one). Medians, not a
/// least-squares line: a locking screw or a marker can fill a third of the
/// rows on one side, and a line fitted through it, extrapolated to the gap,
/// is off by more than the callus it should reveal.
std::optional<Line> twoSidedLevel(const std::vector<double>& rows,
                                  const std::vector<double>& values, double gapRow) {
  std::vector<double> aboveRows, aboveValues, belowRows, belowValues;
  for (std::size_t k = 0; k < rows.size(); ++k) {
    if (std::isnan(values[k])) {
      continue;
    }
    (rows[k] < gapRow ? aboveRows : belowRows).push_back(rows[k]);
    (rows[k] < gapRow ? aboveValues : belowValues).push_back(values[k]);
  }
  constexpr std::size_t kMinimum = 3;
  const bool above = aboveValues.size() >= kMinimum;
  const bool below = belowValues.size() >= kMinimum;
  if (above && below) {
    const double r0 = median(aboveRows), r1 = median(belowRows);
    const double v0 = median(aboveValues), v1 = median(belowValues);
    const double slope = (v1 - v0) / (r1 - r0);
    return Line{v0 - slope * r0, slope};
  }
  if (above || below) {
    return Line{median(above ? aboveValues : belowValues), 0.0};
  }
  return std::nullopt;
}

/// Callus outside one cortex, per row near the fracture: how far outward
/// from the intact edge the image stays brighter than the same offset from
/// the edge above and below the fracture zone. Comparing like with like
/// cancels the soft tissue's own gradient, the other bone alongside and the
/// film's exposure; a callus collar adds its own density on top.
struct CallusBand {
  std::vector<double> extent; ///< per row from firstRow, pixels outward of the intact edge
  cv::Mat excess; ///< per row from firstRow x offset-1: above reference, contrast shares
  int firstRow = 0;
};

CallusBand callusOutside(const Straightened& st, const ShaftModel& m, const Line& edge, int side,
                         double gapRow, const RadiographAnalysisParameters& p) {
  CallusBand out;
  const int outward = side == 0 ? -1 : 1;
  const int reach = std::max(3, static_cast<int>(std::lround(0.5 * m.width)));
  const int zone = std::max(3, static_cast<int>(std::lround(1.0 * m.width)));
  const int refFar = static_cast<int>(std::lround(4 * m.width));
  // The reference rows start 1.5 widths from the gap, or, on a film too
  // short to leave a few rows there, at the farthest quarter width of the
  // shaft.
  const double farthest = std::max(gapRow - m.firstShaftRow, m.lastShaftRow - gapRow);
  const double refNear = farthest >= 1.5 * m.width + 3
                             ? 1.5 * m.width
                             : std::max(p.callusReferenceNearestWidths * m.width,
                                        farthest - std::max(3.0, 0.25 * m.width));
  const auto sample = [&](int i, int d) -> double {
    const int j = static_cast<int>(std::lround(edge.at(i))) + outward * d;
    if (i < 0 || i >= st.rows() || j < 0 || j >= st.cols() ||
        st.metal.at<std::uint8_t>(i, j) != 0) {
      return kNaN;
    }
    return st.image.at<float>(i, j);
  };
  // Reference per offset: the level along the shaft at that offset, away
  // from the fracture on both sides.
  std::vector<std::optional<Line>> reference(static_cast<std::size_t>(reach) + 1);
  for (int d = 1; d <= reach; ++d) {
    std::vector<double> s, v;
    for (int i = static_cast<int>(gapRow) - refFar; i <= static_cast<int>(gapRow) + refFar; ++i) {
      if (i < m.firstShaftRow || i > m.lastShaftRow || std::abs(i - gapRow) < refNear) {
        continue;
      }
      s.push_back(i);
      v.push_back(sample(i, d));
    }
    reference[static_cast<std::size_t>(d)] = twoSidedLevel(s, v, gapRow);
  }
  out.firstRow = static_cast<int>(gapRow) - zone;
  out.excess = cv::Mat(2 * zone + 1, reach, CV_32F, cv::Scalar(kNaN));
  for (int i = out.firstRow; i <= static_cast<int>(gapRow) + zone; ++i) {
    for (int d = 1; d <= reach; ++d) {
      const std::optional<Line>& ref = reference[static_cast<std::size_t>(d)];
      const double v = sample(i, d);
      if (ref && !std::isnan(v)) {
        out.excess.at<float>(i - out.firstRow, d - 1) =
            static_cast<float>((v - ref->at(i)) / m.contrast());
      }
    }
    // The outline: outward while the excess stays above the callus level
    // (a short dip of two pixels does not end it).
    const float* excess = out.excess.ptr<float>(i - out.firstRow);
    int extent = 0;
    int misses = 0;
    for (int d = 1; d <= reach; ++d) {
      const float e = excess[d - 1];
      if (std::isnan(e)) {
        break;
      }
      if (e >= p.callusContrast) {
        extent = d;
        misses = 0;
      } else if (++misses > 2) {
        break;
      }
    }
    out.extent.push_back(extent);
  }
  return out;
}

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

/// A plate seen edge-on lies along the cortex's profile: a strip of metal
/// parallel to the shaft just outside the cortex, unbroken across the
/// fracture. Returns the largest share of the rows around the gap that are
/// metal in one column of that strip. Screws cross the shaft (a few rows
/// per column); a nail, or a plate seen en face, lies inside the edge.
double metalAlongProfile(const Straightened& st, const ShaftModel& m, const Line& edge,
                         double gapRow, int side) {
  const int outward = side == 0 ? -1 : 1;
  const int halfRows = std::max(3, static_cast<int>(std::lround(0.5 * m.width)));
  const int outwardReach = static_cast<int>(std::lround(0.35 * m.width));
  double best = 0;
  for (int d = 1; d <= outwardReach; ++d) {
    int metal = 0, total = 0;
    for (int i = static_cast<int>(gapRow) - halfRows; i <= static_cast<int>(gapRow) + halfRows;
         ++i) {
      const int j = static_cast<int>(std::lround(edge.at(i))) + outward * d;
      if (i < 0 || i >= st.rows() || j < 0 || j >= st.cols()) {
        continue;
      }
      ++total;
      metal += st.metal.at<std::uint8_t>(i, j) != 0 ? 1 : 0;
    }
    if (total > 0) {
      best = std::max(best, static_cast<double>(metal) / total);
    }
  }
  return best;
}

SideMeasure measureSide(const Straightened& st, const ShaftModel& m, const Line& edge,
                        double gapRow, double slope, int side,
                        const RadiographAnalysisParameters& p) {
  SideMeasure out;
  const int n = st.rows();
  const double edgeAtGap = edge.at(gapRow);
  const auto lineRow = [&](double column) { return gapRow + slope * (column - edgeAtGap); };
  const double zone = std::max(3.0, p.fractureZoneHalfWidths * m.width);
  const double band = std::max(2.0, 0.22 * m.width);
  const int outward = side == 0 ? -1 : 1;

  const CallusBand callus = callusOutside(st, m, edge, side, gapRow, p);
  double thickness = 0;
  int rows = 0;
  double outermost = 0;
  for (std::size_t k = 0; k < callus.extent.size(); ++k) {
    const int i = callus.firstRow + static_cast<int>(k);
    const double extent = callus.extent[k];
    if (std::abs(i - gapRow) <= zone * 2) {
      thickness += extent;
      ++rows;
      outermost = std::max(outermost, extent);
    }
    out.callusPixels += extent;
    if (extent > 0.5) {
      out.callusOutline.emplace_back(i, edge.at(i) + outward * extent);
    }
  }
  out.callusThickness = rows > 0 ? thickness / rows / m.width : 0.0;
  // Collar continuity: the callus's mean excess over its inner part, along
  // lines parallel to the fracture line, darkest at the gap against the
  // collar either side of it.
  {
    const int depth =
        std::clamp(static_cast<int>(std::lround(0.6 * outermost)), 1, callus.excess.cols);
    std::vector<double> collar;
    for (int r = 0; r < callus.excess.rows; ++r) {
      double sum = 0;
      int count = 0;
      for (int d = 0; d < depth; ++d) {
        // Along the line's direction: an oblique cleft crosses the collar
        // at a slant.
        const int rr = r + static_cast<int>(std::lround(slope * outward * (d + 1)));
        if (rr < 0 || rr >= callus.excess.rows) {
          continue;
        }
        const float v = callus.excess.at<float>(rr, d);
        if (!std::isnan(v)) {
          sum += v;
          ++count;
        }
      }
      collar.push_back(count > 0 ? sum / count : kNaN);
    }
    // The gap row is where the line crosses the middle of the cortex band
    // (cortexGapRow); along an oblique line the cleft meets the collar
    // outside the edge slope x half a band further along the shaft (at 45
    // degrees 0.11 widths), so the collar at the gap is its lowest within
    // that reach, still short of the rows it is compared with.
    const double gapReach = std::max(2.0, p.collarGapWindowWidths * m.width);
    double atGap = 1e9;
    std::vector<double> around;
    for (std::size_t k = 0; k < collar.size(); ++k) {
      const double dist = std::abs(callus.firstRow + static_cast<double>(k) - gapRow);
      if (std::isnan(collar[k])) {
        continue;
      }
      if (dist <= gapReach) {
        atGap = std::min(atGap, collar[k]);
      } else if (dist >= 0.15 * m.width && dist <= 0.6 * m.width) {
        around.push_back(collar[k]);
      }
    }
    const double level = around.empty() ? kNaN : median(around);
    out.collarLevel = level;
    out.collarAtGap = atGap < 1e9 ? atGap : kNaN;
  }

  // Columns of the band: from inside the cortex out to the callus.
  const double inner = edgeAtGap - outward * band;
  const double outerColumn = edgeAtGap + outward * (outermost + 2);
  const int j0 = static_cast<int>(std::floor(std::min(inner, outerColumn)));
  const int j1 = static_cast<int>(std::ceil(std::max(inner, outerColumn)));
  const int zoneRows = static_cast<int>(std::lround(2 * zone)) + 1;
  const int width = std::max(1, j1 - j0 + 1);
  cv::Mat values(zoneRows, width, CV_32F, cv::Scalar(0));
  // Metal, or off the film: not cortex the line can be seen on.
  cv::Mat hidden(zoneRows, width, CV_8U, cv::Scalar(255));
  int metalCount = 0, bandCount = 0;
  for (int r = 0; r < zoneRows; ++r) {
    for (int j = j0; j <= j1; ++j) {
      const double row = lineRow(j) - zone + r;
      const int ri = static_cast<int>(std::lround(row));
      if (ri < 0 || ri >= n || j < 0 || j >= st.cols()) {
        continue;
      }
      const bool isMetal = st.metal.at<std::uint8_t>(ri, j) != 0;
      const double edgeHere = edge.at(ri);
      // Metal over the outer half of the cortex hides the line; a nail in
      // the canal may reach the cortex's inner surface without hiding it.
      // Only opaque metal makes the cortex not assessable: a plate seen en
      // face that the film shows below the saturated screws it holds lets
      // the cortex's profile through. (The measures below still leave all
      // metal out.)
      const bool inBand = outward * (j - edgeHere) <= 0 && outward * (j - edgeHere) >= -0.5 * band;
      if (inBand) {
        ++bandCount;
        metalCount += !st.opaque.empty() && st.opaque.at<std::uint8_t>(ri, j) != 0 ? 1 : 0;
      }
      hidden.at<std::uint8_t>(r, j - j0) = isMetal ? 255 : 0;
      values.at<float>(r, j - j0) =
          isMetal ? 0.0F : static_cast<float>((st.image.at<float>(ri, j) - m.soft) / m.contrast());
    }
  }
  out.metalCover = bandCount > 0 ? static_cast<double>(metalCount) / bandCount : 0.0;
  out.plateAlongside = metalAlongProfile(st, m, edge, gapRow, side);
  cv::GaussianBlur(values, values, cv::Size(3, 3), 0.7);
  // Max-min path, top to bottom, one column sideways per row.
  std::vector<float> path(static_cast<std::size_t>(width)), next(path.size());
  for (int j = 0; j < width; ++j) {
    path[static_cast<std::size_t>(j)] = values.at<float>(0, j);
  }
  for (int r = 1; r < zoneRows; ++r) {
    for (int j = 0; j < width; ++j) {
      float reachable = path[static_cast<std::size_t>(j)];
      if (j > 0) {
        reachable = std::max(reachable, path[static_cast<std::size_t>(j - 1)]);
      }
      if (j + 1 < width) {
        reachable = std::max(reachable, path[static_cast<std::size_t>(j + 1)]);
      }
      next[static_cast<std::size_t>(j)] = std::min(reachable, values.at<float>(r, j));
    }
    path.swap(next);
  }
  // Against the brightest level of the band away from the line: a path
  // that keeps most of it is mineralised tissue crossing, one that dips to a
  // fraction of it crosses a gap.
  std::vector<double> rowMax;
  const int middle = zoneRows / 2;
  for (int r = 0; r < zoneRows; ++r) {
    if (std::abs(r - middle) > zone * 0.6) {
      double best = 0;
      for (int j = 0; j < width; ++j) {
        best = std::max(best, static_cast<double>(values.at<float>(r, j)));
      }
      rowMax.push_back(best);
    }
  }
  const double brightest = median(rowMax);
  const double bottleneck = *std::max_element(path.begin(), path.end());
  out.bridging = brightest > 0 ? bottleneck / brightest : 0.0;

  // Line visibility: the darkest row of the cortex band near the line,
  // against the band away from it. Metal (and what lies off the film) is
  // left out, not read as dark cortex: the outline of a plate seen en face,
  // running into the band in some rows and not in others, had put the band
  // away from the line below the band at it (ratios up to 1.35).
  std::vector<double> rowMeans;
  for (int r = 0; r < zoneRows; ++r) {
    double sum = 0;
    int count = 0;
    for (int j = j0; j <= j1; ++j) {
      if (outward * (j - edgeAtGap) <= 0 && outward * (j - edgeAtGap) >= -band &&
          hidden.at<std::uint8_t>(r, j - j0) == 0) {
        sum += values.at<float>(r, j - j0);
        ++count;
      }
    }
    rowMeans.push_back(count > 0 ? sum / count : kNaN);
  }
  const int centre = zoneRows / 2;
  double darkest = 1e9;
  for (int r = std::max(0, centre - 3); r <= std::min(zoneRows - 1, centre + 3); ++r) {
    if (!std::isnan(rowMeans[static_cast<std::size_t>(r)])) {
      darkest = std::min(darkest, rowMeans[static_cast<std::size_t>(r)]);
    }
  }
  std::vector<double> ends;
  for (int r = 0; r < zoneRows; ++r) {
    if (std::abs(r - centre) > zone * 0.6) {
      ends.push_back(rowMeans[static_cast<std::size_t>(r)]);
    }
  }
  const double reference = median(ends);
  out.line = reference > 0 && darkest < 1e9 ? darkest / reference : 0.0;
  return out;
}

CortexScore scoreSide(const SideMeasure& m, const RadiographAnalysisParameters& p,
                      double& confidence) {
  CortexScore score;
  if (m.metalCover > p.metalCoverShare) {
    score.notAssessable = "implant covers the cortex at the fracture";
    confidence = 0;
    return score;
  }
  if (m.plateAlongside > p.plateAlongsideShare) {
    score.notAssessable = "a plate lies along the cortex's profile at the fracture";
    confidence = 0;
    return score;
  }
  // Callus: a collar outside the cortex, denser than the soft tissue at the
  // same distance from the shaft above and below the fracture.
  const double collar = std::isnan(m.collarLevel) ? 0.0 : m.collarLevel;
  const bool callus = collar >= p.collarContrast;
  // Bridging: the collar keeps its density across the gap; an unbridged
  // collar is cleft by the fracture line, as the cortex under it is.
  const double continuity = callus && !std::isnan(m.collarAtGap) ? m.collarAtGap / collar : 0.0;
  const bool bridged =
      callus ? continuity >= p.collarBridgedShare : m.bridging >= p.bridgingContrast;
  if (bridged) {
    score.category = m.line >= p.remodelledContrast ? CortexCategory::Remodelled
                                                    : CortexCategory::BridgingCallus;
  } else {
    score.category = callus ? CortexCategory::CallusVisibleLine : CortexCategory::NoCallus;
  }
  // Distance from the deciding threshold, in shares of a quarter contrast.
  const double margin = callus ? std::min(std::abs(continuity - p.collarBridgedShare),
                                          std::abs(collar - p.collarContrast) * 4.0)
                               : std::min(std::abs(m.bridging - p.bridgingContrast),
                                          std::abs(collar - p.collarContrast) * 4.0);
  confidence = std::clamp(margin / 0.25, 0.0, 1.0);
  return score;
}

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

  const TissueMaps maps = tissueMaps(working, p);
  const FilmRange film = rangeOf(working, cv::Mat());
  const cv::Mat metal = findMetal(working, film, maps, p);
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
  const cv::Mat bone = findBone(maps, metal, p, true);
  const std::optional<ShaftFrame> frame = shaftFrame(working, bone, metal, p);
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
  if (!frame) {
    return fail("no long bone found");
  }
  // The metal that hides what lies under it: what the film shows at the
  // opaque level or above, with the blurred rim around it (as findMetal
  // gives every implant its rim).
  cv::Mat opaque = metal & (working >= film.low + p.metalOpaqueShare * (film.top - film.low));
  cv::dilate(opaque, opaque, cv::Mat(), cv::Point(-1, -1), 2);
  opaque &= metal;
  // The strip along a frame, lengthened over the faint bone connected to
  // the mask it was found on.
  const auto straightenedWithFaintBone = [&](const cv::Mat& mask, const ShaftFrame& found) {
    // The faint bone matters only within the strip it can lengthen.
    const double beyond = p.faintBoneMaxReachWidths * 0.5 * found.uHalf + 1;
    std::vector<cv::Point2f> corners;
    for (double s : {found.sMin - beyond, found.sMax + beyond}) {
      for (double u : {-found.uHalf, found.uHalf}) {
        corners.emplace_back(found.point(s, u));
      }
    }
    const cv::Rect area = grownWithin(cv::boundingRect(corners), 1, mask.size());
    const cv::Mat faint = faintBoneReach(maps, mask, metal, area, p);
    return straighten(working, mask, metal, reachingFaintBone(faint, metal, found, p), opaque,
                      faint);
  };
  Straightened st = straightenedWithFaintBone(bone, *frame);
  std::optional<ShaftModel> model = modelShaft(st, p);
  // A long bone's shaft is a fifth of its limb's width or more. Narrower
  // (or not found at all), the bone mask has split it (thin walls around a
  // dark canal, a cortex beside a nail not found as metal) and one strip
  // was taken for the shaft: its split is bridged, and the wider shaft
  // kept.
  if (!model || model->width < p.shaftMinLimbShare * 2.0 * maps.limbHalf) {
    const cv::Mat bridged = bridgedBone(maps, bone, metal, p);
    if (const std::optional<ShaftFrame> wider = shaftFrame(working, bridged, metal, p)) {
      Straightened bridgedSt = straightenedWithFaintBone(bridged, *wider);
      std::optional<ShaftModel> bridgedModel = modelShaft(bridgedSt, p);
      if (bridgedModel && (!model || bridgedModel->width > model->width)) {
        st = std::move(bridgedSt);
        model = std::move(bridgedModel);
      }
    }
  }
  if (!model) {
    return fail("no long-bone shaft found");
  }
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
    const double gapRow =
        cortexGapRow(st, *model, edge, side, fracture.row + fracture.slope * (sideColumn - c), p);
    gapRows[static_cast<std::size_t>(side)] = gapRow;
    gapColumns[static_cast<std::size_t>(side)] = edge.at(gapRow);
    const SideMeasure m = measureSide(st, *model, edge, gapRow, fracture.slope, side, p);
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
