// The body, the limb and the bone on a radiograph: local contrast and its levels.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
namespace {

/// Air and soft tissue are told apart when their means differ by this many
/// of the air's standard deviations (in 8-bit levels, at least one).
constexpr double kAirSeparation = 6.0;

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

} // namespace

TissueMaps tissueMaps(const cv::Mat& image, const RadiographAnalysisParameters& p) {
  TissueMaps maps;
  maps.body = bodyMask(image);
  maps.limbHalf = limbHalfWidth(maps.body);
  maps.contrast = localContrast(image, maps.limbHalf, p);
  return maps;
}

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

cv::Mat bridgedBone(const TissueMaps& maps, const cv::Mat& bone, double faintLevel,
                    const RadiographAnalysisParameters& p) {
  if (std::isnan(faintLevel)) {
    return bone;
  }
  const int size =
      std::max(3, static_cast<int>(std::lround(p.boneBridgeLimbShare * maps.limbHalf))) | 1;
  cv::Mat closed;
  cv::morphologyEx(bone, closed, cv::MORPH_CLOSE,
                   cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(size, size)));
  closed &= (maps.contrast > faintLevel) | bone;
  return closed;
}

cv::Mat faintBoneReach(const TissueMaps& maps, const cv::Mat& bone, double faintLevel,
                       const cv::Rect& area) {
  cv::Mat reach = cv::Mat::zeros(bone.size(), CV_8U);
  if (area.empty()) {
    return reach;
  }
  if (std::isnan(faintLevel)) {
    bone(area).copyTo(reach(area));
    return reach;
  }
  const cv::Mat boneThere = bone(area);
  const cv::Mat candidates = (maps.contrast(area) > faintLevel) | boneThere;
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

} // namespace unionscope::radiograph
