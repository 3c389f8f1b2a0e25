// The fracture line: line evidence along the straightened shaft.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
namespace {

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

} // namespace

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

} // namespace unionscope::radiograph
