// An intramedullary nail the metal levels missed, found where it lies: down
// the middle of the traced shaft, brighter than the shaft's own cortices.

#include "RadiographInternals.h"

#include <map>

namespace unionscope::radiograph {
namespace {

/// The shaft's profile across, in bins of its width, each bin's median over
/// the shaft rows that hold no metal; nullopt when metal lies in more than a
/// tenth of them (an implant found already) or no row is left.
constexpr int kBins = 20;
using Profile = std::array<double, kBins>;

std::optional<Profile> profileAcross(const Straightened& st, const ShaftModel& m) {
  std::array<std::vector<double>, kBins> values;
  int rows = 0, rowsWithMetal = 0;
  for (int i = m.firstShaftRow; i <= m.lastShaftRow; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double left = m.edges.left[k];
    const double width = m.edges.right[k] - left;
    if (!(width > 4)) {
      continue; // no bone traced on this row
    }
    const int from = std::max(0, static_cast<int>(std::ceil(left)));
    const int to = std::min(st.cols() - 1, static_cast<int>(std::floor(m.edges.right[k])));
    if (from > to) {
      continue; // the traced edges lie off the strip
    }
    ++rows;
    const std::uint8_t* metal = st.metal.ptr<std::uint8_t>(i);
    if (std::any_of(metal + from, metal + to + 1, [](std::uint8_t v) { return v != 0; })) {
      ++rowsWithMetal;
      continue;
    }
    const float* row = st.image.ptr<float>(i);
    for (int b = 0; b < kBins; ++b) {
      const int j = static_cast<int>(std::lround(left + (b + 0.5) * width / kBins));
      if (j >= 0 && j < st.cols()) {
        values[static_cast<std::size_t>(b)].push_back(row[j]);
      }
    }
  }
  if (rows == 0 || rowsWithMetal > 0.1 * rows) {
    return std::nullopt;
  }
  Profile profile{};
  for (std::size_t b = 0; b < profile.size(); ++b) {
    profile[b] = median(values[b]);
    if (std::isnan(profile[b])) {
      return std::nullopt;
    }
  }
  return profile;
}

/// A run of columns [first, last] on one row; empty when last < first.
struct Run {
  int first = 0, last = -1;
  [[nodiscard]] int width() const { return last - first + 1; }
  [[nodiscard]] double centre() const { return 0.5 * (first + last); }
};

/// Strip rows, also beyond the strip's ends (sampled from the working image
/// along the frame): the nail runs on where the bone turns too faint to be
/// traced. NaN off the film and on metal found before.
class StripRows {
public:
  StripRows(const cv::Mat& image, const cv::Mat& metal, const Straightened& st)
      : image_(image), metal_(metal), st_(st) {}

  [[nodiscard]] std::vector<float> row(int i) const {
    std::vector<float> values(static_cast<std::size_t>(st_.cols()), kNaNf);
    for (int j = 0; j < st_.cols(); ++j) {
      float& v = values[static_cast<std::size_t>(j)];
      if (i >= 0 && i < st_.rows()) {
        v = st_.metal.at<std::uint8_t>(i, j) != 0 ? kNaNf : st_.image.at<float>(i, j);
        continue;
      }
      const cv::Point2d q = st_.working(i, j);
      const int x = static_cast<int>(std::lround(q.x));
      const int y = static_cast<int>(std::lround(q.y));
      if (x >= 0 && y >= 0 && x < image_.cols && y < image_.rows &&
          metal_.at<std::uint8_t>(y, x) == 0) {
        v = image_.at<float>(y, x);
      }
    }
    return values;
  }

private:
  static constexpr float kNaNf = std::numeric_limits<float>::quiet_NaN();
  const cv::Mat& image_;
  const cv::Mat& metal_;
  const Straightened& st_;
};

/// The run of `row` at or above `level` through column `start`.
Run runAbove(const std::vector<float>& row, int start, double level) {
  Run run;
  const auto at = [&](int j) { return static_cast<double>(row[static_cast<std::size_t>(j)]); };
  if (start < 0 || start >= static_cast<int>(row.size()) || !(at(start) >= level)) {
    return run;
  }
  run.first = run.last = start;
  while (run.first > 0 && at(run.first - 1) >= level) {
    --run.first;
  }
  while (run.last + 1 < static_cast<int>(row.size()) && at(run.last + 1) >= level) {
    ++run.last;
  }
  return run;
}

/// Beyond the shaft rows the bone around the nail changes (thicker soft
/// tissue, a bone end), so no one level holds: the nail is the run through
/// the row's peak near `centre`, above halfway from what lies a nail's width
/// beside it to that peak, when the peak stands `minStep` above it.
Run runBesideItsSurroundings(const std::vector<float>& row, double centre, double nailWidth,
                             double minStep) {
  const int c = static_cast<int>(std::lround(centre));
  const int reach = static_cast<int>(std::lround(0.5 * nailWidth));
  const int left = c - 2 * reach, right = c + 2 * reach;
  if (left < 0 || right >= static_cast<int>(row.size())) {
    return {};
  }
  int peakColumn = c;
  for (int j = c - reach; j <= c + reach; ++j) {
    if (row[static_cast<std::size_t>(j)] > row[static_cast<std::size_t>(peakColumn)]) {
      peakColumn = j;
    }
  }
  const double peak = row[static_cast<std::size_t>(peakColumn)];
  const double beside =
      std::max(row[static_cast<std::size_t>(left)], row[static_cast<std::size_t>(right)]);
  if (!(peak - beside >= minStep)) {
    return {};
  }
  return runAbove(row, peakColumn, beside + 0.5 * (peak - beside));
}

} // namespace

cv::Mat nailInCanal(const cv::Mat& image, const cv::Mat& metal, const Straightened& st,
                    const ShaftModel& m, const RadiographAnalysisParameters& p) {
  const std::optional<Profile> profile = profileAcross(st, m);
  if (!profile) {
    return {};
  }
  // The cortices: the brightest of the outer quarters. The canal: the
  // middle 30%, a nail's plateau when flat across and above the cortices.
  const auto begin = profile->begin();
  const double cortex =
      std::max(*std::max_element(begin, begin + 5), *std::max_element(begin + 15, begin + 20));
  const auto [canalLow, canalHigh] = std::minmax_element(begin + 7, begin + 13);
  const double aboveCortex = *canalLow - cortex;
  if (aboveCortex < p.canalNailMinStep * m.contrast() ||
      *canalHigh - *canalLow > p.canalNailMaxUnevenness * aboveCortex) {
    return {};
  }
  const double plateau = median(std::vector<double>(begin + 7, begin + 13));
  const double level = cortex + 0.5 * (plateau - cortex);
  const StripRows strip(image, metal, st);
  // The nail on the shaft rows: the run through the centre above the level,
  // 0.15 to 0.7 of the shaft wide.
  std::map<int, Run> runs;
  std::vector<double> widths;
  int rows = 0;
  for (int i = m.firstShaftRow; i <= m.lastShaftRow; ++i) {
    const auto k = static_cast<std::size_t>(i);
    const double width = m.edges.right[k] - m.edges.left[k];
    if (!(width > 4)) {
      continue;
    }
    ++rows;
    const Run run =
        runAbove(strip.row(i),
                 static_cast<int>(std::lround(0.5 * (m.edges.left[k] + m.edges.right[k]))), level);
    if (run.width() >= 0.15 * width && run.width() <= 0.7 * width) {
      runs[i] = run;
      widths.push_back(run.width());
    }
  }
  if (runs.empty() || static_cast<double>(runs.size()) < p.canalNailMinRowShare * rows) {
    return {};
  }
  // Followed on past the shaft rows while a run of the nail's width goes on
  // in line with the last; a fracture's fragments beside the nail may merge
  // with it for a few rows, and the nail runs on straight across them.
  // Rows off the film hold no run, so the search ends within a gap of it.
  const double nailWidth = median(widths);
  const int maxGap = std::max(3, static_cast<int>(std::lround(0.75 * m.width)));
  for (int step : {-1, 1}) {
    const auto end = step < 0 ? runs.begin() : std::prev(runs.end());
    int lastRow = end->first;
    Run last = end->second;
    for (int i = lastRow + step; std::abs(i - lastRow) <= maxGap; i += step) {
      const Run run = runBesideItsSurroundings(strip.row(i), last.centre(), nailWidth,
                                               0.5 * (plateau - cortex));
      if (run.width() < 0.6 * nailWidth || run.width() > 1.5 * nailWidth ||
          std::abs(run.centre() - last.centre()) > 0.5 * nailWidth) {
        continue;
      }
      for (int gap = lastRow + step; gap != i; gap += step) {
        runs[gap] = last;
      }
      runs[i] = run;
      last = run;
      lastRow = i;
    }
  }
  cv::Mat nail = cv::Mat::zeros(image.size(), CV_8U);
  for (const auto& [i, run] : runs) {
    cv::line(nail, st.working(i, run.first), st.working(i, run.last), cv::Scalar(255), 2);
  }
  addMetalRim(nail);
  return nail;
}

} // namespace unionscope::radiograph
