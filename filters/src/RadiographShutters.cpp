// Collimator shutters on a radiograph: the unexposed bands along the film's
// edges, which are no anatomy.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
namespace {

/// Pixels past the blade's steepest step that are still its blurred edge
/// (the one-pixel blur here, and the film's own unsharpness): left in the
/// field, they stand out of the air like a thin bone along the blade.
constexpr int kEdgeSpread = 3;

/// How far a shutter reaches in from the film's edge along one line of
/// pixels (`values`, starting at the edge), or 0 when the line does not
/// start in one. A shutter is the film's unexposed part: it starts at the
/// top of the range, at the edge, and falls without turning up again,
/// through the scatter beside the blade, over the blade's edge (the
/// steepest step of the fall) and on into the exposed field (air, or dark
/// tissue). It ends at the blade's edge: past it, the fall is the field's
/// own (a bone the blade cuts, then the soft tissue beside it). Anatomy cut
/// by the film's edge has texture (it turns up and down along the line)
/// and does not fall to the field's darkest level.
int shutterDepth(const std::vector<float>& values, double low, double range,
                 const RadiographAnalysisParameters& p) {
  const auto n = static_cast<int>(values.size());
  if (n < 3 || values[0] < low + p.shutterMinStartShare * range) {
    return 0;
  }
  const double noise = p.shutterNoiseShare * range;
  double lowest = values[0];
  int fallEnd = 0;
  for (int k = 1; k < n; ++k) {
    const double v = values[static_cast<std::size_t>(k)];
    if (v > lowest + noise) {
      break;
    }
    if (v < lowest) {
      lowest = v;
      fallEnd = k;
    }
  }
  if (values[0] - lowest < p.shutterMinDropShare * range) {
    return 0;
  }
  // The blade's edge: the steepest step of the fall, and its blurred edge
  // past it.
  int edge = 0;
  double steepest = 0;
  for (int k = 0; k < fallEnd; ++k) {
    const double step =
        values[static_cast<std::size_t>(k)] - values[static_cast<std::size_t>(k + 1)];
    if (step > steepest) {
      steepest = step;
      edge = k + 1;
    }
  }
  return std::min(fallEnd, edge + kEdgeSpread);
}

} // namespace

cv::Mat collimatorShutters(const cv::Mat& image, const FilmRange& film,
                           const RadiographAnalysisParameters& p) {
  cv::Mat shutters; // allocated with the first band found
  const double range = film.top - film.low;
  if (!(range > 0) || image.rows < 8 || image.cols < 8) {
    return shutters;
  }
  // The four edges: lines of pixels run inward from each (left, right, top,
  // bottom), one line per row or column.
  const double startLevel = film.low + p.shutterMinStartShare * range;
  cv::Mat smooth;
  for (int side = 0; side < 4; ++side) {
    const bool alongRows = side < 2; // left and right edges: one line per row
    const int lines = alongRows ? image.rows : image.cols;
    const int length = alongRows ? image.cols : image.rows;
    // Most films have no shutter: an edge whose pixels are not at the top
    // of the range on enough of its lines is not looked at further.
    const int border = side % 2 == 0 ? 0 : length - 1;
    const cv::Mat edgePixels = alongRows ? image.col(border) : image.row(border);
    if (cv::countNonZero(edgePixels >= startLevel) < p.shutterMinEdgeShare * lines) {
      continue;
    }
    // A light blur: noise must not end a fall early.
    if (smooth.empty()) {
      cv::GaussianBlur(image, smooth, cv::Size(), 1.0);
    }
    std::vector<int> depths(static_cast<std::size_t>(lines), 0);
    std::vector<bool> startsInShutter(static_cast<std::size_t>(lines), false);
    std::vector<float> values(static_cast<std::size_t>(length) / 2);
    for (int l = 0; l < lines; ++l) {
      for (std::size_t k = 0; k < values.size(); ++k) {
        const int inward = side % 2 == 0 ? static_cast<int>(k) : length - 1 - static_cast<int>(k);
        values[k] = alongRows ? smooth.at<float>(l, inward) : smooth.at<float>(inward, l);
      }
      depths[static_cast<std::size_t>(l)] = shutterDepth(values, film.low, range, p);
      startsInShutter[static_cast<std::size_t>(l)] = values[0] >= startLevel;
    }
    // A blade runs along most of its edge, at least a few pixels deep; a
    // bone or a marker cut by the film's edge covers a short stretch of it.
    const int minDepth =
        std::max(3, static_cast<int>(std::lround(p.shutterMinDepthShare * length)));
    std::vector<double> at, depth;
    for (int l = 0; l < lines; ++l) {
      if (depths[static_cast<std::size_t>(l)] >= minDepth) {
        at.push_back(l);
        depth.push_back(depths[static_cast<std::size_t>(l)]);
      }
    }
    if (static_cast<double>(at.size()) < p.shutterMinEdgeShare * lines) {
      continue;
    }
    // The blade is straight, and its edge is where it runs on most lines:
    // where anatomy as bright as the shutter meets it (bone at the blade,
    // a heel on the film's bottom band), a line starts in the shutter but
    // falls late, or not clearly, and its own steepest step lies in the
    // anatomy.
    const std::optional<Line> blade = robustLineFit(at, depth);
    std::vector<double> edge(static_cast<std::size_t>(lines), 0.0);
    for (int l = 0; l < lines; ++l) {
      const auto k = static_cast<std::size_t>(l);
      if (startsInShutter[k]) { // every line with a depth starts in the shutter
        edge[k] = blade ? std::max(0.0, blade->at(l)) : depths[k];
      }
    }
    // A stray line whose first pixel fell short of the level takes the
    // depth of those around it.
    edge = medianFiltered(edge, std::max(2, lines / 40));
    // Never past the half of the film the lines were followed into.
    const int deepest = length / 2;
    for (int l = 0; l < lines; ++l) {
      const int d =
          std::min(deepest, static_cast<int>(std::lround(edge[static_cast<std::size_t>(l)])));
      if (d <= 0) {
        continue;
      }
      const cv::Rect band = alongRows ? cv::Rect(side == 0 ? 0 : length - d, l, d, 1)
                                      : cv::Rect(l, side == 2 ? 0 : length - d, 1, d);
      if (shutters.empty()) {
        shutters = cv::Mat::zeros(image.size(), CV_8U);
      }
      shutters(band).setTo(255);
    }
  }
  return shutters;
}

} // namespace unionscope::radiograph
