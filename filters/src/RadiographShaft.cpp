// The long bone's shaft: its frame, the straightened strip along it, its edges
// and the diaphysis.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
namespace {

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
    const std::vector<double> smooth = medianFiltered(e.widths(), 5);
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

/// A mask's 8-connected components: labels (0 outside them) and stats.
struct Components {
  cv::Mat labels, stats;
  int count = 0; ///< with the background, label 0
};

Components componentsOf(const cv::Mat& mask) {
  Components out;
  cv::Mat centroids;
  out.count = cv::connectedComponentsWithStats(mask, out.labels, out.stats, centroids, 8);
  return out;
}

/// The implants on the straightened metal mask: its components, with the
/// pieces of one implant joined. Where a nail crosses the fracture, the
/// fragments' edges change the level over it and the metal mask can break
/// across it: on FracAtlas 0467, a femoral nail split by a one-row seam
/// inside the fracture's box, near where the strip begins, and the piece
/// above was too short to count as fixing the bone, so the piece below put
/// its end zone over the fracture. A piece that begins within
/// implantSeamMaxPixels rows of where another ends, across the same
/// columns, continues it (the columns their facing ends span overlap by
/// half the narrower one's, and neither is twice as wide as the other: not
/// a screw across the shaft just past a nail's tip). The seam is filled
/// for the implant's span only, not in the metal mask: metal hides the line
/// (0467's canal nail, its mask filled across the fracture's fragments,
/// lost the line).
Components implantPieces(const cv::Mat& metal, const RadiographAnalysisParameters& p) {
  Components pieces = componentsOf(metal);
  const int count = pieces.count;
  const cv::Mat& labels = pieces.labels;
  const cv::Mat& stats = pieces.stats;
  if (count <= 2) {
    return pieces;
  }
  // The columns each piece spans over its first and last few rows (a
  // piece's end is ragged where the level fades).
  constexpr int kEndRows = 3;
  struct Ends {
    int top = 0, bottom = 0;
    int topFrom = std::numeric_limits<int>::max(), topTo = -1;
    int bottomFrom = std::numeric_limits<int>::max(), bottomTo = -1;
  };
  std::vector<Ends> ends(static_cast<std::size_t>(count));
  for (int c = 1; c < count; ++c) {
    Ends& e = ends[static_cast<std::size_t>(c)];
    e.top = stats.at<int>(c, cv::CC_STAT_TOP);
    e.bottom = e.top + stats.at<int>(c, cv::CC_STAT_HEIGHT) - 1;
    const int left = stats.at<int>(c, cv::CC_STAT_LEFT);
    const int right = left + stats.at<int>(c, cv::CC_STAT_WIDTH);
    for (int d = 0; d < kEndRows; ++d) {
      for (int j = left; j < right; ++j) {
        if (e.top + d <= e.bottom && labels.at<int>(e.top + d, j) == c) {
          e.topFrom = std::min(e.topFrom, j);
          e.topTo = std::max(e.topTo, j);
        }
        if (e.bottom - d >= e.top && labels.at<int>(e.bottom - d, j) == c) {
          e.bottomFrom = std::min(e.bottomFrom, j);
          e.bottomTo = std::max(e.bottomTo, j);
        }
      }
    }
  }
  // The pieces by the row they begin on: each piece's end is compared with
  // those beginning just below it only.
  std::vector<std::vector<int>> beginningOn(static_cast<std::size_t>(metal.rows));
  for (int c = 1; c < count; ++c) {
    beginningOn[static_cast<std::size_t>(ends[static_cast<std::size_t>(c)].top)].push_back(c);
  }
  cv::Mat joined; // a copy of the mask, made when the first seam is filled
  for (int a = 1; a < count; ++a) {
    const Ends& upper = ends[static_cast<std::size_t>(a)];
    const int upperWidth = upper.bottomTo - upper.bottomFrom + 1;
    const int lastRow = std::min(metal.rows - 1, upper.bottom + p.implantSeamMaxPixels + 1);
    for (int row = upper.bottom + 1; row <= lastRow; ++row) {
      for (int b : beginningOn[static_cast<std::size_t>(row)]) {
        const Ends& lower = ends[static_cast<std::size_t>(b)];
        const int lowerWidth = lower.topTo - lower.topFrom + 1;
        const int from = std::max(upper.bottomFrom, lower.topFrom);
        const int to = std::min(upper.bottomTo, lower.topTo);
        if (2 * (to - from + 1) >= std::min(upperWidth, lowerWidth) &&
            2 * std::min(upperWidth, lowerWidth) >= std::max(upperWidth, lowerWidth)) {
          if (joined.empty()) {
            joined = metal.clone();
          }
          cv::rectangle(joined, cv::Point(from, upper.bottom), cv::Point(to, lower.top),
                        cv::Scalar(255), cv::FILLED);
        }
      }
    }
  }
  return joined.empty() ? pieces : componentsOf(joined);
}

/// The rows where an implant fixes the bone: the metal components running
/// along the shaft for at least implantSpanMinLengthWidths shaft widths,
/// with most of their pixels over the bone or within
/// implantSpanBoneReachWidths of its edges (a nail in the canal, a plate on
/// the cortex; not a fixator's bar in the air or a plate on the neighbouring
/// bone) and reaching a shaft width into the searched rows (a bright tarsus
/// taken for metal lies beyond them), or, shaped like an implant
/// (implantMinElongation), ending within a shaft width of them: a plate
/// widens the bone mask past the diaphysis' limit, so the searched rows can
/// stop where it begins (FracAtlas 2602, a forearm plated over the
/// fracture). Pieces of one implant the metal mask split are joined first
/// (implantPieces). Their span, less fixationEndZoneWidths at each
/// end. Empty when there is none. Needs the model's edges, width and search
/// rows.
std::optional<RowSpan> fixedRows(const Straightened& st, const ShaftModel& m,
                                 const RadiographAnalysisParameters& p) {
  if (st.metal.empty() || cv::countNonZero(st.metal) == 0) {
    return std::nullopt;
  }
  const Components implants = implantPieces(st.metal, p);
  const cv::Mat& labels = implants.labels;
  const cv::Mat& stats = implants.stats;
  const int count = implants.count;
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
    // Rows of the search the component covers; negative, how far it ends
    // short of them.
    const int searched = std::min(bottom, m.lastSearchRow) - std::max(top, m.firstSearchRow) + 1;
    const auto implantShaped = [&]() {
      const cv::Rect box(stats.at<int>(c, cv::CC_STAT_LEFT), top,
                         stats.at<int>(c, cv::CC_STAT_WIDTH), height);
      return elongation(labels(box) == c) >= p.implantMinElongation;
    };
    if (height < p.implantSpanMinLengthWidths * m.width ||
        onBone[static_cast<std::size_t>(c)] <
            p.implantOnBoneMinShare * stats.at<int>(c, cv::CC_STAT_AREA) ||
        searched <= -m.width || (searched < m.width && !implantShaped())) {
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

} // namespace

Straightened straighten(const cv::Mat& image, const cv::Mat& bone, const cv::Mat& metal,
                        const ShaftFrame& frame, const cv::Mat& opaque, const cv::Mat& faint) {
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

std::optional<ShaftModel> modelShaft(const Straightened& st,
                                     const RadiographAnalysisParameters& p) {
  ShaftModel m;
  const Edges mask = boneEdges(st, st.frame.uHalf);
  const std::vector<double> maskWidths = mask.widths();
  const double maskWidth = median(medianFiltered(maskWidths, 4));
  if (std::isnan(maskWidth) || maskWidth < 4) {
    return std::nullopt;
  }
  const Edges raw = trackedEdges(st, mask, maskWidth);
  const std::vector<double> widths = raw.widths();
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
  // edge) show the border, not the bone; so do rows that reach into a
  // collimator shutter (the bone cut by a blade).
  const cv::Size imageSize = st.imageSize;
  const auto insideImage = [&](int i) {
    const auto k = static_cast<std::size_t>(i);
    const double margin = 0.3 * m.width;
    const double left = m.edges.left[k] - margin, right = m.edges.right[k] + margin;
    for (double column : {left, 0.5 * (left + right), right}) {
      const cv::Point2d q = st.working(i, column);
      if (q.x < 0 || q.y < 0 || q.x > imageSize.width - 1 || q.y > imageSize.height - 1) {
        return false;
      }
      if (!st.shutters.empty() &&
          st.shutters.at<std::uint8_t>(static_cast<int>(std::lround(q.y)),
                                       static_cast<int>(std::lround(q.x))) != 0) {
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
  // or flares into its joint: the joint line is no fracture. The bone
  // mask often keeps only the bone's densest part, and ends, narrows or
  // jumps wide (a neighbour taken in) where the metaphysis turns faint.
  // The faint bone connected to it follows the whole bone, and carries the
  // search on too while its width stays under faintBoneFlareFactor of its
  // own width along the diaphysis: it takes in some soft tissue at the
  // edges and the joint's bones beyond, so it is held to a tighter flare
  // than the mask.
  std::vector<double> faintWidths;
  double faintShaftWidth = kNaN;
  if (!st.faint.empty()) {
    Straightened faint = st;
    faint.bone = st.faint;
    faintWidths = medianFiltered(boneEdges(faint, st.frame.uHalf).widths(), 4);
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

} // namespace unionscope::radiograph
