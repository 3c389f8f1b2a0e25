// Each cortex at the fracture: its gap, callus and bridging, and its category.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
namespace {

/// A cortex's gap: the row where the cortex band dips, and how deep a dip
/// it is (in shares of the cortex's contrast; 0 where none was found).
struct CortexGap {
  double row = 0;
  double dip = 0;
};

/// The cortex band's width: the columns just inside the edge that a cortex's
/// gap and line are read on.
double cortexBandWidth(const ShaftModel& m) {
  return std::max(2.0, 0.22 * m.width);
}

/// The rows either side of a cortex's gap its dip is compared with.
int gapShoulderRows(const ShaftModel& m) {
  return std::max(3, static_cast<int>(std::lround(0.15 * m.width)));
}

/// How far up from a dip's darkest row toward the window's brightest its
/// floor reaches, as a share of that depth.
constexpr double kDipFloorShare = 0.1;

/// The mean of `row` over the columns from `farDepth` inside the edge
/// (`outward` points out of the bone) up to the edge itself, or up to but
/// not including the column `nearDepth` inside it when that is not 0 (so
/// that two adjacent depth ranges share no column), metal left out; NaN
/// when there are none.
double bandMean(const Straightened& st, const Line& edge, int outward, double nearDepth,
                double farDepth, int row) {
  const double e = edge.at(row);
  const auto column = [&](double depth) {
    return static_cast<int>(std::lround(e - outward * depth));
  };
  const int nearColumn = column(nearDepth);
  double sum = 0;
  int count = 0;
  for (int j = column(farDepth);
       nearDepth > 0 ? outward * (j - nearColumn) < 0 : outward * (j - e) <= 0; j += outward) {
    if (j >= 0 && j < st.cols() && st.metal.at<std::uint8_t>(row, j) == 0) {
      sum += st.image.at<float>(row, j);
      ++count;
    }
  }
  return count > 0 ? sum / count : kNaN;
}

/// The row where a cleft that dips the cortex band at `row` meets the
/// bone's outer edge on `side`. The cortex band (cortexBandWidth) dips
/// where the cleft crosses it, which along an oblique cleft is rows away
/// from where the cleft meets the edge (at 45 degrees, half a band or more:
/// a line drawn from there misses the cleft at both cortices, and its angle
/// reads too shallow). The cleft's course is read from the dips of the
/// band's outer and inner halves and followed out to the edge, at most
/// gapShoulderRows from `row` (which bounds the slope followed, about 1.4 rows
/// per column, and the noise of the halves' dips, which the extrapolation
/// magnifies 1.5 times). Where the cleft runs along the beam (an ellipse
/// seen nearly en face) both halves dip at the same row, which is kept.
double atEdge(const Straightened& st, const ShaftModel& m, const Line& edge, int side, int row) {
  const int outward = side == 0 ? -1 : 1;
  const double band = cortexBandWidth(m);
  const int reach = gapShoulderRows(m);
  const int from = std::max(0, row - reach);
  const int to = std::min(st.rows() - 1, row + reach);
  // Per half: the middle of its dip's floor, the run of rows around the
  // darkest within a tenth of the window's depth of it (a wide gap is dark
  // over many rows, with no one darkest).
  std::array<double, 2> dipRow{kNaN, kNaN};
  for (int half = 0; half < 2; ++half) {
    const double nearSide = half == 0 ? 0.0 : 0.5 * band;
    const double farSide = half == 0 ? 0.5 * band : band;
    std::vector<double> mean;
    for (int i = from; i <= to; ++i) {
      mean.push_back(bandMean(st, edge, outward, nearSide, farSide, i));
    }
    int darkest = -1;
    double brightest = -1e30;
    for (int k = 0; k < static_cast<int>(mean.size()); ++k) {
      const double v = mean[static_cast<std::size_t>(k)];
      if (std::isnan(v)) {
        continue;
      }
      brightest = std::max(brightest, v);
      if (darkest < 0 || v < mean[static_cast<std::size_t>(darkest)]) {
        darkest = k;
      }
    }
    if (darkest < 0) {
      return row;
    }
    const double floorLevel =
        mean[static_cast<std::size_t>(darkest)] +
        kDipFloorShare * (brightest - mean[static_cast<std::size_t>(darkest)]);
    const auto onFloor = [&](int k) {
      return k >= 0 && k < static_cast<int>(mean.size()) &&
             mean[static_cast<std::size_t>(k)] <= floorLevel;
    };
    int first = darkest, last = darkest;
    while (onFloor(first - 1)) {
      --first;
    }
    while (onFloor(last + 1)) {
      ++last;
    }
    dipRow[static_cast<std::size_t>(half)] = from + 0.5 * (first + last);
  }
  // The halves' middles lie a quarter and three quarters of the band in:
  // the edge is half their distance beyond the outer one.
  const double toEdge = 0.5 * (dipRow[0] - dipRow[1]);
  return std::clamp(dipRow[0] + toEdge, static_cast<double>(from), static_cast<double>(to));
}

/// Where the fracture crosses this side's cortex: the deepest dip of the
/// cortex band's mean along the shaft, within `window` rows of where the line
/// found across the whole shaft meets this side. An oblique plane seen
/// nearly en face shows an ellipse, and a line through the shaft fits one of
/// its arcs; each cortex's own gap sits where the ellipse meets its edge.
CortexGap cortexGap(const Straightened& st, const ShaftModel& m, const Line& edge, int side,
                    double expectedRow, double window) {
  const int outward = side == 0 ? -1 : 1;
  const double band = cortexBandWidth(m);
  const int shoulder = gapShoulderRows(m);
  const int from = std::max(0, static_cast<int>(std::floor(expectedRow - window)) - shoulder);
  const int to =
      std::min(st.rows() - 1, static_cast<int>(std::ceil(expectedRow + window)) + shoulder);
  if (to - from < 2 * shoulder + 1) {
    return {expectedRow, 0.0};
  }
  std::vector<double> mean(static_cast<std::size_t>(to - from + 1), kNaN);
  for (int i = from; i <= to; ++i) {
    mean[static_cast<std::size_t>(i - from)] = bandMean(st, edge, outward, 0.0, band, i);
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

} // namespace

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

CortexGapRows cortexGapRows(const Straightened& st, const ShaftModel& m, const Line& edge, int side,
                            double expectedRow, const RadiographAnalysisParameters& p) {
  CortexGap gap = cortexGap(st, m, edge, side, expectedRow, p.cortexGapWindowWidths * m.width);
  if (gap.dip < p.cortexGapMinDip) {
    const CortexGap further =
        cortexGap(st, m, edge, side, expectedRow, p.cortexGapFarWindowWidths * m.width);
    if (further.dip >= p.cortexGapMinDip) {
      gap = further;
    }
  }
  const double edgeRow =
      gap.dip > 0 ? atEdge(st, m, edge, side, static_cast<int>(gap.row)) : gap.row;
  return {gap.row, edgeRow};
}

SideMeasure measureSide(const Straightened& st, const ShaftModel& m, const Line& edge,
                        double gapRow, double slope, int side,
                        const RadiographAnalysisParameters& p) {
  SideMeasure out;
  const int n = st.rows();
  const double edgeAtGap = edge.at(gapRow);
  const auto lineRow = [&](double column) { return gapRow + slope * (column - edgeAtGap); };
  const double zone = std::max(3.0, p.fractureZoneHalfWidths * m.width);
  const double band = cortexBandWidth(m);
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
    // (CortexGapRows::inBand); along an oblique line the cleft meets the collar
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

} // namespace unionscope::radiograph
