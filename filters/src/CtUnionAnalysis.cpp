#include "unionscope/filters/CtUnionAnalysis.h"

#include <climits>
#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>

namespace unionscope {
namespace {

constexpr double kPi = 3.14159265358979323846;
constexpr double kDeg = kPi / 180.0;
constexpr double kSoftTissueHu = 40; // reference for partial-volume thresholds
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

using Vec3 = std::array<double, 3>;
Vec3 add(const Vec3& a, const Vec3& b) {
  return {a[0] + b[0], a[1] + b[1], a[2] + b[2]};
}
Vec3 sub(const Vec3& a, const Vec3& b) {
  return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
Vec3 mul(const Vec3& a, double s) {
  return {a[0] * s, a[1] * s, a[2] * s};
}
double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
Vec3 normalize(const Vec3& a) {
  const double n = std::sqrt(dot(a, a));
  return n > 0 ? mul(a, 1.0 / n) : a;
}

double median(std::vector<double> v) {
  if (v.empty()) {
    return kNaN;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

/// Disjoint sets with path halving; labels are resolved in index order so the
/// result never depends on scheduling.
class UnionFind {
public:
  explicit UnionFind(std::size_t n) : parent_(n) { std::iota(parent_.begin(), parent_.end(), 0U); }
  std::uint32_t find(std::uint32_t x) {
    while (parent_[x] != x) {
      parent_[x] = parent_[parent_[x]];
      x = parent_[x];
    }
    return x;
  }
  void unite(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a != b) {
      parent_[std::max(a, b)] = std::min(a, b);
    }
  }

private:
  std::vector<std::uint32_t> parent_;
};

/// Physical-point sampling of the CT (trilinear; air outside) and of the
/// metal exclusion zone (nearest voxel).
class VolumeSampler {
public:
  VolumeSampler(const CtImage& ct, const std::vector<std::uint8_t>& metalZone)
      : data_(ct.GetBufferPointer()), metal_(metalZone) {
    const auto size = ct.GetLargestPossibleRegion().GetSize();
    n_ = {static_cast<int>(size[0]), static_cast<int>(size[1]), static_cast<int>(size[2])};
    for (int a = 0; a < 3; ++a) {
      origin_[a] = ct.GetOrigin()[a];
    }
    const auto& direction = ct.GetDirection();
    for (int i = 0; i < 3; ++i) {
      for (int j = 0; j < 3; ++j) {
        // index_i = sum_j D(j,i) (p_j - o_j) / spacing_i for an orthonormal D.
        toIndex_[i][j] = direction(j, i) / ct.GetSpacing()[i];
      }
    }
  }

  [[nodiscard]] Vec3 index(const Vec3& p) const {
    const Vec3 d = sub(p, origin_);
    return {dot(toIndex_[0], d), dot(toIndex_[1], d), dot(toIndex_[2], d)};
  }

  [[nodiscard]] double hu(const Vec3& p) const {
    const Vec3 x = index(p);
    if (x[0] < 0 || x[1] < 0 || x[2] < 0 || x[0] > n_[0] - 1 || x[1] > n_[1] - 1 ||
        x[2] > n_[2] - 1) {
      return -1024.0;
    }
    const int i0 = std::min(static_cast<int>(x[0]), std::max(n_[0] - 2, 0));
    const int j0 = std::min(static_cast<int>(x[1]), std::max(n_[1] - 2, 0));
    const int k0 = std::min(static_cast<int>(x[2]), std::max(n_[2] - 2, 0));
    const double fx = x[0] - i0;
    const double fy = x[1] - j0;
    const double fz = x[2] - k0;
    const auto at = [&](int i, int j, int k) {
      i = std::min(i, n_[0] - 1);
      j = std::min(j, n_[1] - 1);
      k = std::min(k, n_[2] - 1);
      return static_cast<double>(data_[(static_cast<std::size_t>(k) * n_[1] + j) * n_[0] + i]);
    };
    const double c00 = at(i0, j0, k0) * (1 - fx) + at(i0 + 1, j0, k0) * fx;
    const double c10 = at(i0, j0 + 1, k0) * (1 - fx) + at(i0 + 1, j0 + 1, k0) * fx;
    const double c01 = at(i0, j0, k0 + 1) * (1 - fx) + at(i0 + 1, j0, k0 + 1) * fx;
    const double c11 = at(i0, j0 + 1, k0 + 1) * (1 - fx) + at(i0 + 1, j0 + 1, k0 + 1) * fx;
    return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
  }

  [[nodiscard]] bool contains(const Vec3& p) const {
    const Vec3 x = index(p);
    return x[0] >= 0 && x[1] >= 0 && x[2] >= 0 && x[0] <= n_[0] - 1 && x[1] <= n_[1] - 1 &&
           x[2] <= n_[2] - 1;
  }

  [[nodiscard]] bool nearMetal(const Vec3& p) const {
    const Vec3 x = index(p);
    const long i = std::lround(x[0]);
    const long j = std::lround(x[1]);
    const long k = std::lround(x[2]);
    if (i < 0 || j < 0 || k < 0 || i >= n_[0] || j >= n_[1] || k >= n_[2]) {
      return false;
    }
    return metal_[(static_cast<std::size_t>(k) * n_[1] + j) * n_[0] + i] != 0;
  }

private:
  const std::int16_t* data_;
  const std::vector<std::uint8_t>& metal_;
  std::array<int, 3> n_{};
  Vec3 origin_{};
  std::array<Vec3, 3> toIndex_{};
};

/// Metal voxels grown by `margin` mm (separable box dilation per axis),
/// computed only inside the metal's bounding box grown by the margin.
std::vector<std::uint8_t> metalZone(const CtImage& ct, double thresholdHu, double marginMm,
                                    bool& any) {
  const auto size = ct.GetLargestPossibleRegion().GetSize();
  const std::array<long, 3> n{static_cast<long>(size[0]), static_cast<long>(size[1]),
                              static_cast<long>(size[2])};
  const std::size_t slice = static_cast<std::size_t>(n[0]) * static_cast<std::size_t>(n[1]);
  std::vector<std::uint8_t> zone(slice * static_cast<std::size_t>(n[2]), 0);
  const std::int16_t* hu = ct.GetBufferPointer();
  // Per slice: mark metal and note its extent; combined in slice order.
  struct Extent {
    long lo[3] = {LONG_MAX, LONG_MAX, LONG_MAX};
    long hi[3] = {-1, -1, -1};
  };
  std::vector<Extent> extents(static_cast<std::size_t>(n[2]));
  oneapi::tbb::parallel_for(0L, n[2], [&](long k) {
    Extent& e = extents[static_cast<std::size_t>(k)];
    for (long j = 0; j < n[1]; ++j) {
      for (long i = 0; i < n[0]; ++i) {
        const std::size_t v =
            static_cast<std::size_t>(k) * slice + static_cast<std::size_t>(j * n[0] + i);
        if (hu[v] >= thresholdHu) {
          zone[v] = 1;
          const long at[3] = {i, j, k};
          for (int a = 0; a < 3; ++a) {
            e.lo[a] = std::min(e.lo[a], at[a]);
            e.hi[a] = std::max(e.hi[a], at[a]);
          }
        }
      }
    }
  });
  Extent box;
  for (const Extent& e : extents) {
    for (int a = 0; a < 3; ++a) {
      box.lo[a] = std::min(box.lo[a], e.lo[a]);
      box.hi[a] = std::max(box.hi[a], e.hi[a]);
    }
  }
  any = box.hi[0] >= 0;
  if (!any) {
    return zone;
  }
  std::array<long, 3> radius{};
  for (int a = 0; a < 3; ++a) {
    radius[a] = static_cast<long>(std::ceil(marginMm / ct.GetSpacing()[static_cast<unsigned>(a)]));
    box.lo[a] = std::max(0L, box.lo[a] - radius[a]);
    box.hi[a] = std::min(n[a] - 1, box.hi[a] + radius[a]);
  }
  const std::array<std::size_t, 3> stride{1, static_cast<std::size_t>(n[0]), slice};
  for (int axis = 0; axis < 3; ++axis) {
    const int a1 = (axis + 1) % 3;
    const int a2 = (axis + 2) % 3;
    const long w1 = box.hi[a1] - box.lo[a1] + 1;
    const long w2 = box.hi[a2] - box.lo[a2] + 1;
    const long length = box.hi[axis] - box.lo[axis] + 1;
    oneapi::tbb::parallel_for(oneapi::tbb::blocked_range<long>(0, w1 * w2), [&](const auto& lines) {
      std::vector<std::uint8_t> in(static_cast<std::size_t>(length));
      std::vector<long> previous(static_cast<std::size_t>(length));
      for (long line = lines.begin(); line != lines.end(); ++line) {
        const std::size_t base = static_cast<std::size_t>(box.lo[a1] + line % w1) * stride[a1] +
                                 static_cast<std::size_t>(box.lo[a2] + line / w1) * stride[a2] +
                                 static_cast<std::size_t>(box.lo[axis]) * stride[axis];
        long last = -1000000; // the most recent metal voxel along the line
        for (long t = 0; t < length; ++t) {
          in[static_cast<std::size_t>(t)] = zone[base + static_cast<std::size_t>(t) * stride[axis]];
          last = in[static_cast<std::size_t>(t)] ? t : last;
          previous[static_cast<std::size_t>(t)] = last;
        }
        long next = 1000000;
        for (long t = length - 1; t >= 0; --t) {
          next = in[static_cast<std::size_t>(t)] ? t : next;
          const bool hit =
              t - previous[static_cast<std::size_t>(t)] <= radius[axis] || next - t <= radius[axis];
          zone[base + static_cast<std::size_t>(t) * stride[axis]] = hit ? 1 : 0;
        }
      }
    });
  }
  return zone;
}

struct ShaftAxis {
  Vec3 point{};
  Vec3 direction{};
  double radiusMm = 0; ///< typical outer radius of the bone of interest
  double sMin = 0, sMax = 0;
  bool hasOther = false; ///< a second long bone runs beside it
  Vec3 otherPoint{};     ///< on the other bone's axis (parallel to direction)
  double otherRadiusMm = 0;
};

/// The bone of interest is the largest bone cross-section of most axial
/// slices; its centroids lie on the shaft axis. A robust line fit drops the
/// slices where the fibula or a fragment end was the largest. Only metal
/// itself is left out here, not its margin: a plate's margin would cut the
/// cortex under it and pull the centroids away from the axis.
ShaftAxis fitShaftAxis(const CtImage& ct, double metalHu, double boneHu) {
  const auto size = ct.GetLargestPossibleRegion().GetSize();
  const int nx = static_cast<int>(size[0]);
  const int ny = static_cast<int>(size[1]);
  const int nz = static_cast<int>(size[2]);
  const int step = nx > 320 ? 2 : 1; // cross-sections need no sub-millimetre detail
  const int gx = (nx + step - 1) / step;
  const int gy = (ny + step - 1) / step;
  struct Section {
    bool valid = false;
    Vec3 centroid{};
    double areaMm2 = 0;
    double radiusMm = 0;
    bool hasSecond = false; ///< the next largest bone (fibula, ulna...)
    Vec3 secondCentroid{};
    double secondRadiusMm = 0;
  };
  std::vector<Section> sections(static_cast<std::size_t>(nz));
  const double pixelArea = ct.GetSpacing()[0] * ct.GetSpacing()[1] * step * step;
  const std::int16_t* hu = ct.GetBufferPointer();
  oneapi::tbb::parallel_for(0, nz, [&](int k) {
    std::vector<std::uint8_t> bone(static_cast<std::size_t>(gx) * gy);
    for (int j = 0; j < gy; ++j) {
      for (int i = 0; i < gx; ++i) {
        const std::size_t v = (static_cast<std::size_t>(k) * ny + j * step) * nx + i * step;
        bone[static_cast<std::size_t>(j) * gx + i] = hu[v] >= boneHu && hu[v] < metalHu ? 1 : 0;
      }
    }
    UnionFind sets(bone.size());
    for (int j = 0; j < gy; ++j) {
      for (int i = 0; i < gx; ++i) {
        const std::size_t v = static_cast<std::size_t>(j) * gx + i;
        if (!bone[v]) {
          continue;
        }
        if (i > 0 && bone[v - 1]) {
          sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v - 1));
        }
        if (j > 0 && bone[v - gx]) {
          sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v - gx));
        }
      }
    }
    std::vector<std::uint32_t> counts(bone.size(), 0);
    for (std::size_t v = 0; v < bone.size(); ++v) {
      if (bone[v]) {
        ++counts[sets.find(static_cast<std::uint32_t>(v))];
      }
    }
    // The two largest components, ties broken by index (deterministic).
    std::uint32_t first = 0, second = 0, firstRoot = 0, secondRoot = 0;
    for (std::size_t v = 0; v < counts.size(); ++v) {
      if (counts[v] > first) {
        second = first;
        secondRoot = firstRoot;
        first = counts[v];
        firstRoot = static_cast<std::uint32_t>(v);
      } else if (counts[v] > second) {
        second = counts[v];
        secondRoot = static_cast<std::uint32_t>(v);
      }
    }
    if (first * pixelArea < 30.0) {
      return;
    }
    const auto describe = [&](std::uint32_t root, std::uint32_t count, Vec3& centroid,
                              double& radius) {
      double si = 0, sj = 0;
      for (std::size_t v = 0; v < bone.size(); ++v) {
        if (bone[v] && sets.find(static_cast<std::uint32_t>(v)) == root) {
          si += static_cast<double>(v % gx);
          sj += static_cast<double>(v / gx);
        }
      }
      si /= count;
      sj /= count;
      double maxR2 = 0;
      for (std::size_t v = 0; v < bone.size(); ++v) {
        if (bone[v] && sets.find(static_cast<std::uint32_t>(v)) == root) {
          const double dx = (static_cast<double>(v % gx) - si) * step * ct.GetSpacing()[0];
          const double dy = (static_cast<double>(v / gx) - sj) * step * ct.GetSpacing()[1];
          maxR2 = std::max(maxR2, dx * dx + dy * dy);
        }
      }
      CtImage::PointType p;
      ct.TransformContinuousIndexToPhysicalPoint(
          itk::ContinuousIndex<double, 3>(
              std::array<double, 3>{si * step, sj * step, double(k)}.data()),
          p);
      centroid = {p[0], p[1], p[2]};
      radius = std::sqrt(maxR2);
    };
    Section& section = sections[static_cast<std::size_t>(k)];
    section.valid = true;
    section.areaMm2 = first * pixelArea;
    describe(firstRoot, first, section.centroid, section.radiusMm);
    if (second * pixelArea >= 15.0) {
      section.hasSecond = true;
      describe(secondRoot, second, section.secondCentroid, section.secondRadiusMm);
    }
  });

  std::vector<const Section*> kept;
  for (const Section& s : sections) {
    if (s.valid) {
      kept.push_back(&s);
    }
  }
  if (kept.size() < 8) {
    throw std::runtime_error("no long bone found: fewer than 8 slices show a bone cross-section");
  }
  ShaftAxis axis;
  for (int iteration = 0; iteration < 4; ++iteration) {
    Vec3 mean{0, 0, 0};
    for (const Section* s : kept) {
      mean = add(mean, s->centroid);
    }
    mean = mul(mean, 1.0 / static_cast<double>(kept.size()));
    // Principal direction by power iteration on the scatter matrix.
    std::array<Vec3, 3> scatter{};
    for (const Section* s : kept) {
      const Vec3 d = sub(s->centroid, mean);
      for (int r = 0; r < 3; ++r) {
        for (int c = 0; c < 3; ++c) {
          scatter[r][c] += d[r] * d[c];
        }
      }
    }
    Vec3 u = normalize(sub(kept.back()->centroid, kept.front()->centroid));
    for (int p = 0; p < 50; ++p) {
      u = normalize({dot(scatter[0], u), dot(scatter[1], u), dot(scatter[2], u)});
    }
    if (u[2] < 0) {
      u = mul(u, -1.0);
    }
    axis.point = mean;
    axis.direction = u;
    std::vector<double> residuals;
    for (const Section* s : kept) {
      const Vec3 d = sub(s->centroid, mean);
      const Vec3 off = sub(d, mul(u, dot(d, u)));
      residuals.push_back(std::sqrt(dot(off, off)));
    }
    const double limit = std::max(4.0, 3.0 * median(residuals));
    std::vector<const Section*> inliers;
    for (std::size_t i = 0; i < kept.size(); ++i) {
      if (residuals[i] <= limit) {
        inliers.push_back(kept[i]);
      }
    }
    if (inliers.size() == kept.size() || inliers.size() < 8) {
      break;
    }
    kept = inliers;
  }
  // The other long bone beside it (fibula beside the tibia, ulna beside the
  // radius): the second-largest section wherever it stays apart.
  std::vector<Vec3> others;
  std::vector<double> otherRadii;
  for (const Section& s : sections) {
    if (s.valid && s.hasSecond) {
      const Vec3 d = sub(s.secondCentroid, axis.point);
      const Vec3 off = sub(d, mul(axis.direction, dot(d, axis.direction)));
      if (std::sqrt(dot(off, off)) > 1.2 * s.radiusMm) {
        others.push_back(s.secondCentroid);
        otherRadii.push_back(s.secondRadiusMm);
      }
    }
  }
  if (others.size() >= std::max<std::size_t>(8, kept.size() / 3)) {
    Vec3 mean{0, 0, 0};
    for (const Vec3& p : others) {
      mean = add(mean, p);
    }
    axis.otherPoint = mul(mean, 1.0 / static_cast<double>(others.size()));
    // Long bones of a limb run nearly parallel: keep the shaft's direction and
    // reject centroids off the mean line.
    std::vector<double> offsets;
    for (const Vec3& p : others) {
      const Vec3 d = sub(p, axis.otherPoint);
      const Vec3 off = sub(d, mul(axis.direction, dot(d, axis.direction)));
      offsets.push_back(std::sqrt(dot(off, off)));
    }
    axis.hasOther = median(offsets) < 3.0;
    axis.otherRadiusMm = median(otherRadii);
  }
  std::vector<double> radii;
  axis.sMin = std::numeric_limits<double>::max();
  axis.sMax = std::numeric_limits<double>::lowest();
  for (const Section* s : kept) {
    radii.push_back(s->radiusMm);
    const double along = dot(sub(s->centroid, axis.point), axis.direction);
    axis.sMin = std::min(axis.sMin, along);
    axis.sMax = std::max(axis.sMax, along);
  }
  axis.radiusMm = median(radii);
  return axis;
}

/// The volume resampled around the shaft axis: s along it, theta around it
/// (0 = medial, 90 = anterior), r away from it.
struct PolarGrid {
  int ns = 0, nt = 0, nr = 0;
  double s0 = 0, ds = 0.5, dr = 0.4, dt = kDeg;
  std::vector<std::int16_t> hu;
  std::vector<std::uint8_t> metal;
  std::vector<std::uint8_t> inside;    ///< sample lies within the scanned volume
  std::vector<std::uint8_t> otherBone; ///< within the neighbouring long bone
  std::vector<std::uint8_t> tibia;     ///< bone of interest (and its callus), not the fibula

  [[nodiscard]] std::size_t at(int is, int it, int ir) const {
    return (static_cast<std::size_t>(is) * nt + static_cast<std::size_t>(it)) * nr +
           static_cast<std::size_t>(ir);
  }
  [[nodiscard]] double s(int is) const { return s0 + is * ds; }
  [[nodiscard]] double r(int ir) const { return ir * dr; }
  [[nodiscard]] double theta(int it) const { return it * dt; }
};

void markTibia(PolarGrid& g, double boneHu, double radiusMm) {
  const std::size_t count = g.hu.size();
  UnionFind sets(count);
  const auto bone = [&](std::size_t v) {
    return g.hu[v] >= boneHu && !g.metal[v] && !g.otherBone[v];
  };
  for (int is = 0; is < g.ns; ++is) {
    for (int it = 0; it < g.nt; ++it) {
      for (int ir = 0; ir < g.nr; ++ir) {
        const std::size_t v = g.at(is, it, ir);
        if (!bone(v)) {
          continue;
        }
        if (ir > 0 && bone(v - 1)) {
          sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v - 1));
        }
        const std::size_t around = g.at(is, (it + 1) % g.nt, ir); // theta wraps
        if (bone(around)) {
          sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(around));
        }
        if (is > 0 && bone(g.at(is - 1, it, ir))) {
          sets.unite(static_cast<std::uint32_t>(v),
                     static_cast<std::uint32_t>(g.at(is - 1, it, ir)));
        }
      }
    }
  }
  // Components that stay near the axis are the bone of interest and its
  // callus; the fibula keeps its distance.
  std::vector<double> sumR(count, 0.0);
  std::vector<std::uint32_t> n(count, 0);
  for (int is = 0; is < g.ns; ++is) {
    for (int it = 0; it < g.nt; ++it) {
      for (int ir = 0; ir < g.nr; ++ir) {
        const std::size_t v = g.at(is, it, ir);
        if (bone(v)) {
          const std::uint32_t root = sets.find(static_cast<std::uint32_t>(v));
          sumR[root] += g.r(ir);
          ++n[root];
        }
      }
    }
  }
  g.tibia.assign(count, 0);
  const double limit = 1.5 * radiusMm;
  for (std::size_t v = 0; v < count; ++v) {
    if (bone(v)) {
      const std::uint32_t root = sets.find(static_cast<std::uint32_t>(v));
      g.tibia[v] = sumR[root] / n[root] <= limit ? 1 : 0;
    }
  }
}

struct FracturePlane {
  bool found = false;
  double s0 = 0, p = 0, q = 0; ///< s = s0 + p*x + q*y (x medial, y anterior, in mm)
  double confidence = 0;
  double gapMm = 2;
  [[nodiscard]] double nz() const { return 1.0 / std::sqrt(1 + p * p + q * q); }
  /// Signed distance to the plane, positive toward the head.
  [[nodiscard]] double distance(double s, double r, double theta) const {
    return (s - s0 - p * r * std::cos(theta) - q * r * std::sin(theta)) * nz();
  }
  [[nodiscard]] double sAt(double r, double theta) const {
    return s0 + p * r * std::cos(theta) + q * r * std::sin(theta);
  }
};

/// Peak tibial density per (s, angle bin), and the radius where it sits.
struct CorticalProfile {
  int bins = 0;
  std::vector<double> peak;         ///< ns x bins, NaN where metal hides the ray
  std::vector<double> radius;       ///< ns x bins
  std::vector<double> baseline;     ///< per bin: intact cortical density
  std::vector<double> cortexRadius; ///< per bin: typical radius of the cortex
};

CorticalProfile corticalProfile(const PolarGrid& g, int bins) {
  CorticalProfile c;
  c.bins = bins;
  c.peak.assign(static_cast<std::size_t>(g.ns) * bins, kNaN);
  c.radius.assign(static_cast<std::size_t>(g.ns) * bins, kNaN);
  const int perBin = g.nt / bins;
  oneapi::tbb::parallel_for(0, g.ns, [&](int is) {
    for (int b = 0; b < bins; ++b) {
      double best = -2000;
      double bestR = kNaN;
      int metalSamples = 0;
      int samples = 0;
      for (int it = b * perBin; it < (b + 1) * perBin; ++it) {
        for (int ir = 0; ir < g.nr; ++ir) {
          const std::size_t v = g.at(is, it, ir);
          ++samples;
          if (g.metal[v]) {
            ++metalSamples;
            continue;
          }
          if (g.tibia[v] && g.hu[v] > best) {
            best = g.hu[v];
            bestR = g.r(ir);
          }
        }
      }
      const std::size_t k = static_cast<std::size_t>(is) * bins + b;
      // A ray mostly through metal says nothing about the cortex behind it.
      const bool hidden = metalSamples > samples / 3;
      c.peak[k] = hidden ? kNaN : std::max(best, kSoftTissueHu);
      c.radius[k] = bestR;
    }
  });
  c.baseline.resize(static_cast<std::size_t>(bins));
  c.cortexRadius.resize(static_cast<std::size_t>(bins));
  for (int b = 0; b < bins; ++b) {
    std::vector<double> values;
    std::vector<double> radii;
    for (int is = 0; is < g.ns; ++is) {
      const std::size_t k = static_cast<std::size_t>(is) * bins + b;
      if (!std::isnan(c.peak[k])) {
        values.push_back(c.peak[k]);
        if (!std::isnan(c.radius[k])) {
          radii.push_back(c.radius[k]);
        }
      }
    }
    c.baseline[static_cast<std::size_t>(b)] = median(values);
    c.cortexRadius[static_cast<std::size_t>(b)] = median(radii);
  }
  return c;
}

/// The fracture as a plane through the deepest density dip of every angle
/// bin, fitted robustly (screw holes and noise are outliers).
FracturePlane fitFracturePlane(const PolarGrid& g, const CorticalProfile& c) {
  struct Dip {
    double x, y, s, depth, widthMm;
  };
  std::vector<Dip> dips;
  const int margin = static_cast<int>(std::ceil(4.0 / g.ds));
  for (int b = 0; b < c.bins; ++b) {
    const double base = c.baseline[static_cast<std::size_t>(b)];
    const double radius = c.cortexRadius[static_cast<std::size_t>(b)];
    if (std::isnan(base) || base < 700 || std::isnan(radius)) {
      continue; // no real cortex in this direction
    }
    const auto value = [&](int is) {
      // 3-sample moving average along the shaft; NaN stays NaN.
      double sum = 0;
      int n = 0;
      for (int o = -1; o <= 1; ++o) {
        const int j = std::clamp(is + o, 0, g.ns - 1);
        const double v = c.peak[static_cast<std::size_t>(j) * c.bins + b];
        if (!std::isnan(v)) {
          sum += v;
          ++n;
        }
      }
      return n > 0 ? sum / n : kNaN;
    };
    int bestIs = -1;
    double bestDepth = 0;
    for (int is = margin; is < g.ns - margin; ++is) {
      const double v = value(is);
      if (!std::isnan(v) && base - v > bestDepth) {
        bestDepth = base - v;
        bestIs = is;
      }
    }
    if (bestIs < 0 || bestDepth < 0.12 * base) {
      continue;
    }
    // Width at half depth, along the shaft.
    int lo = bestIs;
    int hi = bestIs;
    const double half = base - 0.5 * bestDepth;
    while (lo > 0 && !std::isnan(value(lo - 1)) && value(lo - 1) < half) {
      --lo;
    }
    while (hi < g.ns - 1 && !std::isnan(value(hi + 1)) && value(hi + 1) < half) {
      ++hi;
    }
    const double theta = (b + 0.5) * 2 * kPi / c.bins;
    dips.push_back({radius * std::cos(theta), radius * std::sin(theta), g.s(bestIs),
                    bestDepth / base, (hi - lo + 1) * g.ds});
  }
  FracturePlane plane;
  if (dips.size() < 6) {
    return plane;
  }
  std::vector<bool> use(dips.size(), true);
  for (int iteration = 0; iteration < 6; ++iteration) {
    // Weighted least squares for s = s0 + p x + q y (weights: dip depth).
    double a[3][3] = {};
    double rhs[3] = {};
    for (std::size_t i = 0; i < dips.size(); ++i) {
      if (!use[i]) {
        continue;
      }
      const double f[3] = {1, dips[i].x, dips[i].y};
      const double w = dips[i].depth;
      for (int r = 0; r < 3; ++r) {
        for (int col = 0; col < 3; ++col) {
          a[r][col] += w * f[r] * f[col];
        }
        rhs[r] += w * f[r] * dips[i].s;
      }
    }
    // Solve the 3x3 system by Cramer's rule.
    const auto det3 = [](double m[3][3]) {
      return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
             m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
             m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    };
    const double d = det3(a);
    if (std::abs(d) < 1e-9) {
      // Dips in too few directions to tilt the plane: keep it transverse.
      std::vector<double> s;
      for (std::size_t i = 0; i < dips.size(); ++i) {
        if (use[i]) {
          s.push_back(dips[i].s);
        }
      }
      plane.s0 = median(s);
      plane.p = plane.q = 0;
    } else {
      double solution[3];
      for (int col = 0; col < 3; ++col) {
        double m[3][3];
        for (int r = 0; r < 3; ++r) {
          for (int k = 0; k < 3; ++k) {
            m[r][k] = k == col ? rhs[r] : a[r][k];
          }
        }
        solution[col] = det3(m) / d;
      }
      plane.s0 = solution[0];
      plane.p = solution[1];
      plane.q = solution[2];
    }
    std::vector<double> residuals;
    for (const Dip& dip : dips) {
      residuals.push_back(std::abs(dip.s - (plane.s0 + plane.p * dip.x + plane.q * dip.y)));
    }
    const double limit = std::max(2.0, 2.5 * median(residuals));
    bool changed = false;
    for (std::size_t i = 0; i < dips.size(); ++i) {
      const bool keep = residuals[i] <= limit;
      changed = changed || keep != use[i];
      use[i] = keep;
    }
    if (!changed) {
      break;
    }
  }
  std::vector<double> widths;
  int inliers = 0;
  for (std::size_t i = 0; i < dips.size(); ++i) {
    if (use[i]) {
      ++inliers;
      widths.push_back(dips[i].widthMm);
    }
  }
  plane.found = inliers >= 6;
  plane.confidence = std::min(1.0, inliers / static_cast<double>(c.bins));
  plane.gapMm = std::clamp(median(widths) * plane.nz(), 0.8, 10.0);
  return plane;
}

std::size_t sectorOfAngle(double theta) {
  // Cortex order: anterior, posterior, medial, lateral.
  const std::array<double, 4> centres{90 * kDeg, -90 * kDeg, 0.0, 180 * kDeg};
  std::size_t best = 0;
  double bestDistance = 10;
  for (std::size_t c = 0; c < 4; ++c) {
    const double distance = std::abs(std::remainder(theta - centres[c], 2 * kPi));
    if (distance < bestDistance) {
      bestDistance = distance;
      best = c;
    }
  }
  return best;
}

/// The label map's callus on the polar grid, from the callus stage's own
/// terms: `share` is every sample's share of callus (what columnVolume sums)
/// and `columnVolume` each column's (s, theta) measured callus volume, hidden
/// columns filled. Blur spreads a column's callus over more samples at lower
/// shares; the samples with the largest shares (ties: the inner one) carry the
/// column's volume, whole samples while at least half a sample is left, the
/// remainder carried on to the next column of the cortex (slice by slice,
/// theta ascending). Columns with a negative sum (noise, the intact shaft's
/// reference a little above the bone) have no callus to label, but the
/// measurement nets them against the rest: the cortex's positive columns are
/// scaled down by the same total. So thick callus keeps its core (its blurred
/// rim has the lower shares), thin callus its thickness at its peak, and the
/// labelled samples of each cortex add up to its callusVolumeMm3 within half
/// a sample. A cortex whose sum is negative (measured as 0) gets none.
/// Returns the labelled volume (mm3).
double polarCallusMask(const PolarGrid& g, const std::vector<float>& share,
                       const std::vector<double>& columnVolume, int zoneFirst, int zoneLast,
                       std::vector<std::uint8_t>& callus) {
  callus.assign(g.hu.size(), 0);
  std::array<double, 4> labelled{};
  oneapi::tbb::parallel_for(0, 4, [&](int sector) {
    const auto inSector = [&](int it) {
      return sectorOfAngle(g.theta(it)) == static_cast<std::size_t>(sector);
    };
    const auto volumeOf = [&](int is, int it) {
      return columnVolume[static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it)];
    };
    double positive = 0;
    double net = 0;
    for (int is = zoneFirst; is <= zoneLast; ++is) {
      for (int it = 0; it < g.nt; ++it) {
        if (inSector(it)) {
          positive += std::max(0.0, volumeOf(is, it));
          net += volumeOf(is, it);
        }
      }
    }
    if (positive <= 0 || net <= 0) {
      return;
    }
    const double scale = net / positive;
    std::vector<int> candidates;
    double carried = 0;
    double sum = 0;
    for (int is = zoneFirst; is <= zoneLast; ++is) {
      for (int it = 0; it < g.nt; ++it) {
        if (!inSector(it)) {
          continue;
        }
        double left = carried + scale * std::max(0.0, volumeOf(is, it));
        if (left > 0) {
          candidates.clear();
          for (int ir = 0; ir < g.nr; ++ir) {
            if (share[g.at(is, it, ir)] > 0) {
              candidates.push_back(ir);
            }
          }
          std::sort(candidates.begin(), candidates.end(), [&](int a, int b) {
            const float sa = share[g.at(is, it, a)];
            const float sb = share[g.at(is, it, b)];
            return sa != sb ? sa > sb : a < b;
          });
          for (const int ir : candidates) {
            const double dv = g.r(ir) * g.dt * g.dr * g.ds;
            if (left < 0.5 * dv) {
              break;
            }
            callus[g.at(is, it, ir)] = 1;
            left -= dv;
            sum += dv;
          }
        }
        carried = left;
      }
    }
    labelled[static_cast<std::size_t>(sector)] = sum;
  });
  return labelled[0] + labelled[1] + labelled[2] + labelled[3];
}

/// The Cartesian label map on the CT's grid: metal and bone by each voxel's
/// own HU, callus by the share of the voxel whose nearest polar sample (in s,
/// theta and r around the shaft axis) is callus in `callus` (polarCallusMask).
/// A polar sample stands for r dtheta dr ds of tissue, so these shares add up
/// to the labelled polar volume; the row-wise carry turns them into whole
/// voxels without losing volume.
MaskImage::Pointer cartesianLabelMap(const CtImage& ct, const PolarGrid& g,
                                     const std::vector<std::uint8_t>& callus,
                                     const CtAnalysisParameters& parameters, const Vec3& axisPoint,
                                     const Vec3& u, const Vec3& medial, const Vec3& anterior) {
  auto labels = MaskImage::New();
  labels->SetRegions(ct.GetLargestPossibleRegion());
  labels->SetOrigin(ct.GetOrigin());
  labels->SetSpacing(ct.GetSpacing());
  labels->SetDirection(ct.GetDirection());
  labels->Allocate();
  const auto size = ct.GetLargestPossibleRegion().GetSize();
  const long nx = static_cast<long>(size[0]);
  const long ny = static_cast<long>(size[1]);
  const long nz = static_cast<long>(size[2]);
  // Physical step of one voxel along each index axis.
  std::array<Vec3, 3> step{};
  for (unsigned a = 0; a < 3; ++a) {
    for (unsigned r = 0; r < 3; ++r) {
      step[a][r] = ct.GetDirection()(r, a) * ct.GetSpacing()[a];
    }
  }
  const Vec3 origin{ct.GetOrigin()[0], ct.GetOrigin()[1], ct.GetOrigin()[2]};
  const std::int16_t* hu = ct.GetBufferPointer();
  std::uint8_t* out = labels->GetBufferPointer();
  // Whether a polar sample at point d (relative to the axis point) is callus.
  const double rMax = (g.nr - 0.5) * g.dr;
  const auto isCallus = [&](const Vec3& d) {
    const double x = dot(d, medial);
    const double y = dot(d, anterior);
    const double r = std::sqrt(x * x + y * y);
    const long is = std::lround((dot(d, u) - g.s0) / g.ds);
    if (r >= rMax || is < 0 || is >= g.ns) {
      return false;
    }
    double theta = std::atan2(y, x);
    theta += theta < 0 ? 2 * kPi : 0.0;
    const int it = static_cast<int>(std::lround(theta / g.dt)) % g.nt;
    const int ir = static_cast<int>(std::lround(r / g.dr));
    return callus[g.at(static_cast<int>(is), it, ir)] != 0;
  };
  // Where the callus lies (polar slices, largest radius), so that most
  // voxels need no sub-samples.
  std::vector<std::uint8_t> sliceHasCallus(static_cast<std::size_t>(g.ns), 0);
  int callusRadiusIndex = -1;
  for (std::size_t v = 0; v < callus.size(); ++v) {
    if (callus[v] != 0) {
      sliceHasCallus[v / (static_cast<std::size_t>(g.nt) * g.nr)] = 1;
      callusRadiusIndex = std::max(callusRadiusIndex, static_cast<int>(v % g.nr));
    }
  }
  const Vec3 diagonal = add(add(step[0], step[1]), step[2]);
  const double voxelReach = 0.5 * std::sqrt(dot(diagonal, diagonal));
  const double callusReach = (callusRadiusIndex + 0.5) * g.dr + voxelReach;
  const auto nearCallus = [&](const Vec3& d) {
    const double x = dot(d, medial);
    const double y = dot(d, anterior);
    if (callusRadiusIndex < 0 || x * x + y * y > callusReach * callusReach) {
      return false;
    }
    const double along = (dot(d, u) - g.s0) / g.ds;
    const long lo = std::max(0L, static_cast<long>(std::floor(along - voxelReach / g.ds)));
    const long hi =
        std::min<long>(g.ns - 1, static_cast<long>(std::ceil(along + voxelReach / g.ds)));
    for (long is = lo; is <= hi; ++is) {
      if (sliceHasCallus[static_cast<std::size_t>(is)]) {
        return true;
      }
    }
    return false;
  };
  // The callus share of a voxel from 2 x 2 x 2 sub-samples (the midpoint
  // rule): the voxel centre alone over-counts thin callus, whose polar
  // samples cluster where the interpolated density peaks, at voxel centres.
  std::array<Vec3, 8> offsets{};
  for (std::size_t o = 0; o < 8; ++o) {
    offsets[o] =
        add(add(mul(step[0], (o & 1U) ? 0.25 : -0.25), mul(step[1], (o & 2U) ? 0.25 : -0.25)),
            mul(step[2], (o & 4U) ? 0.25 : -0.25));
  }
  // The voxel index box around the callus cylinder: outside it, HU decide.
  std::array<long, 3> boxLo{0, 0, 0};
  std::array<long, 3> boxHi{-1, -1, -1};
  if (callusRadiusIndex >= 0) {
    long first = 0;
    long last = g.ns - 1;
    while (!sliceHasCallus[static_cast<std::size_t>(first)]) {
      ++first;
    }
    while (!sliceHasCallus[static_cast<std::size_t>(last)]) {
      --last;
    }
    const Vec3 c0 = add(axisPoint, mul(u, g.s(static_cast<int>(first)) - g.ds - voxelReach));
    const Vec3 c1 = add(axisPoint, mul(u, g.s(static_cast<int>(last)) + g.ds + voxelReach));
    const std::array<long, 3> n{nx, ny, nz};
    boxLo = {n[0], n[1], n[2]};
    boxHi = {-1, -1, -1};
    for (unsigned corner = 0; corner < 8; ++corner) {
      Vec3 p{};
      for (unsigned a = 0; a < 3; ++a) {
        p[a] = ((corner >> a) & 1U) ? std::max(c0[a], c1[a]) + callusReach
                                    : std::min(c0[a], c1[a]) - callusReach;
      }
      for (unsigned a = 0; a < 3; ++a) {
        const double index = dot(step[a], sub(p, origin)) / dot(step[a], step[a]);
        boxLo[a] = std::min(boxLo[a], std::max(0L, static_cast<long>(std::floor(index)) - 1));
        boxHi[a] = std::min(n[a] - 1, std::max(boxHi[a], static_cast<long>(std::ceil(index)) + 1));
      }
    }
  }
  oneapi::tbb::parallel_for(0L, nz, [&](long k) {
    for (long j = 0; j < ny; ++j) {
      const Vec3 rowStart = add(origin, add(mul(step[1], double(j)), mul(step[2], double(k))));
      const bool rowInBox = k >= boxLo[2] && k <= boxHi[2] && j >= boxLo[1] && j <= boxHi[1];
      // Error diffusion along the row: a voxel is callus when the callus
      // shares carried so far reach half a voxel, so that the row's callus
      // voxels add up to its callus volume within half a voxel.
      double carried = 0;
      for (long i = 0; i < nx; ++i) {
        const std::size_t v = (static_cast<std::size_t>(k) * ny + j) * nx + i;
        std::uint8_t label = hu[v] >= parameters.metalThresholdHu  ? kLabelMetal
                             : hu[v] >= parameters.boneThresholdHu ? kLabelBone
                                                                   : kLabelBackground;
        if (!rowInBox || i < boxLo[0] || i > boxHi[0] || label == kLabelMetal) {
          out[v] = label;
          continue;
        }
        const Vec3 d = sub(add(rowStart, mul(step[0], double(i))), axisPoint);
        if (nearCallus(d)) {
          int inside = 0;
          for (const Vec3& offset : offsets) {
            inside += isCallus(add(d, offset)) ? 1 : 0;
          }
          carried += inside / 8.0;
          if (carried >= 0.5) {
            label = kLabelCallus;
            carried -= 1.0;
          }
        }
        out[v] = label;
      }
    }
  });
  return labels;
}

} // namespace

CortexScores CtAnalysisResult::cortexScores() const {
  CortexScores byCortex;
  for (std::size_t c = 0; c < 4; ++c) {
    byCortex[c] = cortices[c].score;
  }
  return byCortex;
}

CtAnalysisResult analyzeCtUnion(const CtImage& ct, Laterality laterality,
                                const CtAnalysisParameters& parameters) {
  CtAnalysisResult result;
  auto stageStart = std::chrono::steady_clock::now();
  const auto stage = [&](const char* name) {
    const auto now = std::chrono::steady_clock::now();
    result.stageMilliseconds.emplace_back(
        name, std::chrono::duration<double, std::milli>(now - stageStart).count());
    stageStart = now;
  };
  const std::vector<std::uint8_t> metal =
      metalZone(ct, parameters.metalThresholdHu, parameters.metalMarginMm, result.metalPresent);
  stage("metal");
  const ShaftAxis axis =
      fitShaftAxis(ct, parameters.metalThresholdHu, parameters.corticalThresholdHu);
  stage("axis");
  result.shaftAxis = axis.direction;

  // Anatomical directions around the axis (LPS: anterior is -y; medial is +x
  // for a right limb, -x for a left one).
  const Vec3& u = axis.direction;
  const Vec3 anterior = normalize(sub(Vec3{0, -1, 0}, mul(u, dot(Vec3{0, -1, 0}, u))));
  const double side = laterality == Laterality::Left ? -1.0 : 1.0;
  Vec3 medial = sub(Vec3{side, 0, 0}, mul(u, dot(Vec3{side, 0, 0}, u)));
  medial = normalize(sub(medial, mul(anterior, dot(medial, anterior))));

  PolarGrid g;
  const double finest = std::min({ct.GetSpacing()[0], ct.GetSpacing()[1], ct.GetSpacing()[2]});
  // Finer than half a millimetre along the shaft or a third of one across it
  // buys nothing for a 1-3 mm gap and costs time on 0.3 mm reconstructions.
  g.ds = std::clamp(finest, 0.5, 0.6);
  g.dr = std::clamp(finest * 0.75, 0.35, 0.5);
  g.nt = 360;
  g.dt = 2 * kPi / g.nt;
  const double reach = std::min(50.0, 2.0 * axis.radiusMm + 8.0);
  g.nr = static_cast<int>(std::ceil(reach / g.dr));
  g.s0 = axis.sMin;
  g.ns = static_cast<int>(std::floor((axis.sMax - axis.sMin) / g.ds)) + 1;
  if (g.ns < 20) {
    throw std::runtime_error("the bone of interest spans too short a length to analyse");
  }
  const std::size_t samples = static_cast<std::size_t>(g.ns) * g.nt * g.nr;
  g.hu.resize(samples);
  g.metal.resize(samples);
  g.inside.resize(samples);
  g.otherBone.assign(samples, 0);
  const VolumeSampler sampler(ct, metal);
  oneapi::tbb::parallel_for(0, g.ns, [&](int is) {
    const Vec3 centre = add(axis.point, mul(u, g.s(is)));
    for (int it = 0; it < g.nt; ++it) {
      const Vec3 radial =
          add(mul(medial, std::cos(g.theta(it))), mul(anterior, std::sin(g.theta(it))));
      for (int ir = 0; ir < g.nr; ++ir) {
        const Vec3 p = add(centre, mul(radial, g.r(ir)));
        const std::size_t v = g.at(is, it, ir);
        g.hu[v] =
            static_cast<std::int16_t>(std::clamp(std::nearbyint(sampler.hu(p)), -1024.0, 32767.0));
        g.metal[v] = sampler.nearMetal(p) ? 1 : 0;
        g.inside[v] = sampler.contains(p) ? 1 : 0;
        if (axis.hasOther) {
          const Vec3 d = sub(p, axis.otherPoint);
          const Vec3 off = sub(d, mul(u, dot(d, u)));
          g.otherBone[v] = dot(off, off) <= std::pow(axis.otherRadiusMm + 1.0, 2) ? 1 : 0;
        }
      }
    }
  });
  stage("polar_resampling");
  markTibia(g, parameters.boneThresholdHu, axis.radiusMm);
  stage("bone_of_interest");

  const int bins = std::max(8, static_cast<int>(std::lround(360.0 / parameters.angularBinDeg)));
  const CorticalProfile profile = corticalProfile(g, bins);
  FracturePlane plane = fitFracturePlane(g, profile);
  if (parameters.fractureHint) {
    const double hinted = dot(sub(*parameters.fractureHint, axis.point), u);
    if (!plane.found || std::abs(plane.s0 - hinted) > 10.0) {
      plane.s0 = hinted;
      plane.p = plane.q = 0;
      plane.found = true;
      result.notes.push_back("fracture plane taken from the user's hint (transverse)");
    }
  }
  const Vec3 centre = add(axis.point, mul(u, plane.s0));
  const Vec3 normal = normalize(sub(u, add(mul(medial, plane.p), mul(anterior, plane.q))));
  result.fractureCentre = centre;
  result.fractureNormal = normal;
  result.fractureFound = plane.found;
  result.fractureConfidence = plane.confidence;
  result.gapWidthMm = plane.gapMm;
  if (!plane.found) {
    for (CtCortexResult& cortex : result.cortices) {
      cortex.score.notAssessable = "no fracture found: no loss of cortical continuity on this CT";
    }
    result.scores = computeUnionScores(result.cortexScores());
    return result;
  }

  stage("fracture_plane");
  // Bridging, one angle bin at a time: does mineralised tissue connect the
  // proximal and distal faces of the fracture zone in 3D?
  const double zone = plane.gapMm / 2.0 + 1.0;
  const double face = zone - g.ds;
  const int perBin = g.nt / bins;
  std::vector<signed char> bridged(static_cast<std::size_t>(bins), -1);
  std::vector<double> remodelRatio(static_cast<std::size_t>(bins), kNaN);
  oneapi::tbb::parallel_for(0, bins, [&](int b) {
    const double base = profile.baseline[static_cast<std::size_t>(b)];
    const double cortexR = profile.cortexRadius[static_cast<std::size_t>(b)];
    if (std::isnan(base) || base < 700 || std::isnan(cortexR)) {
      return;
    }
    // The s range this wedge's slab spans.
    double sLo = std::numeric_limits<double>::max();
    double sHi = std::numeric_limits<double>::lowest();
    for (int it = b * perBin; it < (b + 1) * perBin; ++it) {
      for (double r : {0.0, g.r(g.nr - 1)}) {
        sLo = std::min(sLo, plane.sAt(r, g.theta(it)) - zone / plane.nz());
        sHi = std::max(sHi, plane.sAt(r, g.theta(it)) + zone / plane.nz());
      }
    }
    const int isLo = std::max(0, static_cast<int>(std::floor((sLo - g.s0) / g.ds)));
    const int isHi = std::min(g.ns - 1, static_cast<int>(std::ceil((sHi - g.s0) / g.ds)));
    if (isHi - isLo < 2) {
      return;
    }
    const int ls = isHi - isLo + 1;
    const std::size_t local = static_cast<std::size_t>(ls) * perBin * g.nr;
    const auto li = [&](int s, int t, int r) {
      return (static_cast<std::size_t>(s) * perBin + static_cast<std::size_t>(t)) * g.nr +
             static_cast<std::size_t>(r);
    };
    std::vector<std::uint8_t> in(local, 0);
    std::vector<double> dist(local, 0);
    int cortexSamples = 0;
    int visibleCortexSamples = 0;
    std::vector<double> gapCortex;
    for (int s = 0; s < ls; ++s) {
      for (int t = 0; t < perBin; ++t) {
        const int it = b * perBin + t;
        for (int r = 0; r < g.nr; ++r) {
          const std::size_t v = g.at(isLo + s, it, r);
          const double d = plane.distance(g.s(isLo + s), g.r(r), g.theta(it));
          dist[li(s, t, r)] = d;
          if (std::abs(d) > zone) {
            continue;
          }
          const bool nearCortex = std::abs(g.r(r) - cortexR) <= 3.0;
          cortexSamples += nearCortex ? 1 : 0;
          visibleCortexSamples += nearCortex && !g.metal[v] ? 1 : 0;
          if (nearCortex && std::abs(d) <= plane.gapMm / 4.0 && !g.metal[v]) {
            gapCortex.push_back(g.hu[v]);
          }
          in[li(s, t, r)] = g.tibia[v] && !g.metal[v] ? 1 : 0;
        }
      }
    }
    // Mineral that bridges must hold its density across the zone: per
    // column (theta, r), at least a share of the weaker of its two ends. A
    // cleft blurred by partial volume keeps a third or so of its
    // surroundings; callus that crosses keeps nearly all of it.
    for (int t = 0; t < perBin; ++t) {
      for (int r = 0; r < g.nr; ++r) {
        double proximalEnd = kNaN;
        double distalEnd = kNaN;
        for (int s = 0; s < ls; ++s) {
          const double d = dist[li(s, t, r)];
          const double hu = g.hu[g.at(isLo + s, b * perBin + t, r)];
          if (d <= -face && d >= -zone) {
            distalEnd = hu; // the last one before the zone's middle
          }
          if (d >= face && d <= zone && std::isnan(proximalEnd)) {
            proximalEnd = hu;
          }
        }
        const double ends = std::min(std::isnan(proximalEnd) ? -1024.0 : proximalEnd,
                                     std::isnan(distalEnd) ? -1024.0 : distalEnd);
        const double threshold =
            std::max(parameters.bridgingThresholdHu, parameters.bridgingRelativeDensity * ends);
        for (int s = 0; s < ls; ++s) {
          std::uint8_t& voxel = in[li(s, t, r)];
          voxel = voxel && std::abs(dist[li(s, t, r)]) <= zone &&
                          g.hu[g.at(isLo + s, b * perBin + t, r)] >= threshold
                      ? 1
                      : 0;
        }
      }
    }
    if (cortexSamples == 0 || visibleCortexSamples < 0.3 * cortexSamples) {
      return; // metal hides the cortex at the fracture
    }
    UnionFind sets(local);
    for (int s = 0; s < ls; ++s) {
      for (int t = 0; t < perBin; ++t) {
        for (int r = 0; r < g.nr; ++r) {
          const std::size_t v = li(s, t, r);
          if (!in[v]) {
            continue;
          }
          if (r > 0 && in[v - 1]) {
            sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(v - 1));
          }
          if (t > 0 && in[li(s, t - 1, r)]) {
            sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(li(s, t - 1, r)));
          }
          if (s > 0 && in[li(s - 1, t, r)]) {
            sets.unite(static_cast<std::uint32_t>(v), static_cast<std::uint32_t>(li(s - 1, t, r)));
          }
        }
      }
    }
    std::vector<std::uint8_t> touches(local, 0); // bit 1: proximal face, bit 2: distal face
    bool crossing = false;
    for (std::size_t v = 0; v < local && !crossing; ++v) {
      if (!in[v]) {
        continue;
      }
      const std::uint32_t root = sets.find(static_cast<std::uint32_t>(v));
      if (dist[v] >= face) {
        touches[root] |= 1U;
      } else if (dist[v] <= -face) {
        touches[root] |= 2U;
      }
      crossing = touches[root] == 3U;
    }
    bridged[static_cast<std::size_t>(b)] = crossing ? 1 : 0;
    // How much of the intact cortex's density the fracture line keeps.
    std::sort(gapCortex.begin(), gapCortex.end());
    if (!gapCortex.empty()) {
      remodelRatio[static_cast<std::size_t>(b)] =
          gapCortex[static_cast<std::size_t>(0.9 * static_cast<double>(gapCortex.size() - 1))] /
          base;
    }
  });

  stage("bridging");
  // The intact shaft on either side of the callus zone, as a density map
  // over (theta, r): what the bone looks like at each place without callus,
  // partial volume and staircase artefacts of thick slices included. The
  // 90th percentile over the band keeps those artefacts inside "intact".
  const double bandNear = parameters.callusZoneHalfLengthMm;
  const double bandFar = parameters.callusZoneHalfLengthMm + 15.0;
  std::vector<float> intactProximal(static_cast<std::size_t>(g.nt) * g.nr, kNaN);
  std::vector<float> intactDistal(static_cast<std::size_t>(g.nt) * g.nr, kNaN);
  oneapi::tbb::parallel_for(0, g.nt, [&](int it) {
    std::vector<double> proximalValues;
    std::vector<double> distalValues;
    for (int ir = 0; ir < g.nr; ++ir) {
      proximalValues.clear();
      distalValues.clear();
      // Only the slices near the two bands (two slices' margin: the test on
      // d below decides).
      const double sPlane = plane.sAt(g.r(ir), g.theta(it));
      const auto slice = [&](double s) { return static_cast<int>(std::floor((s - g.s0) / g.ds)); };
      const int first = std::max(0, slice(sPlane - bandFar / plane.nz()) - 2);
      const int last = std::min(g.ns - 1, slice(sPlane + bandFar / plane.nz()) + 2);
      const int gapFirst = slice(sPlane - bandNear / plane.nz()) + 2;
      const int gapLast = slice(sPlane + bandNear / plane.nz()) - 2;
      for (int is = first; is <= last; ++is) {
        if (is >= gapFirst && is <= gapLast) {
          is = gapLast;
          continue;
        }
        const std::size_t v = g.at(is, it, ir);
        if (!g.inside[v] || g.metal[v]) {
          continue;
        }
        const double d = plane.distance(g.s(is), g.r(ir), g.theta(it));
        const double hu = g.tibia[v] ? g.hu[v] : std::min<double>(g.hu[v], kSoftTissueHu);
        if (d >= bandNear && d <= bandFar) {
          proximalValues.push_back(hu);
        } else if (d <= -bandNear && d >= -bandFar) {
          distalValues.push_back(hu);
        }
      }
      const auto p90 = [](std::vector<double>& values) {
        if (values.size() < 3) {
          return kNaN;
        }
        const auto at = values.begin() +
                        static_cast<std::ptrdiff_t>(0.9 * static_cast<double>(values.size() - 1));
        std::nth_element(values.begin(), at, values.end());
        return *at;
      };
      const std::size_t k = static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(ir);
      intactProximal[k] = static_cast<float>(p90(proximalValues));
      intactDistal[k] = static_cast<float>(p90(distalValues));

      // One side may lie outside the field of view: use the other.
      if (std::isnan(intactProximal[k])) {
        intactProximal[k] = intactDistal[k];
      } else if (std::isnan(intactDistal[k])) {
        intactDistal[k] = intactProximal[k];
      }
    }
  });
  // Tolerate a small shift of the cortex's edge between the bands and the
  // zone (axis estimate, taper): the reference at (theta, r) is the largest
  // intact value within half a millimetre and one degree.
  const auto widen = [&](const std::vector<float>& intact) {
    std::vector<float> wide(intact.size(), kNaN);
    const int radialReach = std::max(1, static_cast<int>(std::lround(0.5 / g.dr)));
    oneapi::tbb::parallel_for(0, g.nt, [&](int it) {
      for (int ir = 0; ir < g.nr; ++ir) {
        float best = kNaN;
        for (int dt = -1; dt <= 1; ++dt) {
          const int t = (it + dt + g.nt) % g.nt;
          for (int r = std::max(0, ir - radialReach); r <= std::min(g.nr - 1, ir + radialReach);
               ++r) {
            const float value =
                intact[static_cast<std::size_t>(t) * g.nr + static_cast<std::size_t>(r)];
            if (!std::isnan(value) && (std::isnan(best) || value > best)) {
              best = value;
            }
          }
        }
        wide[static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(ir)] = best;
      }
    });
    return wide;
  };
  const std::vector<float> wideProximal = widen(intactProximal);
  const std::vector<float> wideDistal = widen(intactDistal);

  // Per cortex: the bridged share of its arc, and whether the fracture line
  // has gone from its cortex (remodelled).
  std::array<double, 4> fraction{};
  std::array<bool, 4> remodelled{};
  std::array<int, 4> sectorBins{};
  for (std::size_t c = 0; c < 4; ++c) {
    CtCortexResult& cortex = result.cortices[c];
    std::vector<double> ratios;
    for (int b = 0; b < bins; ++b) {
      if (sectorOfAngle((b + 0.5) * 2 * kPi / bins) != c) {
        continue;
      }
      ++sectorBins[c];
      if (bridged[static_cast<std::size_t>(b)] < 0) {
        continue;
      }
      ++cortex.assessedBins;
      cortex.bridgedBins += bridged[static_cast<std::size_t>(b)];
      if (!std::isnan(remodelRatio[static_cast<std::size_t>(b)])) {
        ratios.push_back(remodelRatio[static_cast<std::size_t>(b)]);
      }
    }
    fraction[c] = cortex.assessedBins > 0
                      ? static_cast<double>(cortex.bridgedBins) / cortex.assessedBins
                      : 0.0;
    const double ratio = median(ratios);
    remodelled[c] =
        !std::isnan(ratio) && ratio >= parameters.remodelledDensityRatio && fraction[c] >= 0.75;
  }

  // Callus: mineralised tissue of the bone of interest near the fracture
  // that the intact shaft does not have at the same place (theta, r), plus
  // the fracture line itself where callus bridges it and the cortex has not
  // remodelled. Counted twice: once to learn the callus density, then with
  // the partial-volume threshold halfway between soft tissue and it.
  const double zoneHalf = parameters.callusZoneHalfLengthMm;
  struct CallusCount {
    std::array<double, 4> volume{};   ///< against the exact intact reference
    std::array<double, 4> distinct{}; ///< against the widened one: surely callus
    double huVolume = 0;
  };
  bool missingIntact = false;
  const auto countCallus = [&](double thresholdHu) {
    std::vector<CallusCount> perSlice(static_cast<std::size_t>(g.ns));
    std::vector<std::uint8_t> missing(static_cast<std::size_t>(g.ns), 0);
    oneapi::tbb::parallel_for(0, g.ns, [&](int is) {
      CallusCount& acc = perSlice[static_cast<std::size_t>(is)];
      for (int it = 0; it < g.nt; ++it) {
        const std::size_t sector = sectorOfAngle(g.theta(it));
        const bool gapIsCallus =
            bridged[static_cast<std::size_t>(it / perBin)] == 1 && !remodelled[sector];
        for (int ir = 0; ir < g.nr; ++ir) {
          const std::size_t v = g.at(is, it, ir);
          if (!g.inside[v] || g.metal[v] || !g.tibia[v] || g.hu[v] < thresholdHu) {
            continue;
          }
          const double d = plane.distance(g.s(is), g.r(ir), g.theta(it));
          if (std::abs(d) > zoneHalf) {
            continue;
          }
          const std::size_t k = static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(ir);
          const float intact = d >= 0 ? intactProximal[k] : intactDistal[k];
          if (std::isnan(intact)) {
            missing[static_cast<std::size_t>(is)] = 1;
            continue;
          }
          const bool inLine = gapIsCallus && std::abs(d) <= plane.gapMm / 2.0;
          if (!inLine && g.hu[v] < intact + parameters.callusExcessHu) {
            continue;
          }
          const float wide = d >= 0 ? wideProximal[k] : wideDistal[k];
          const bool distinct = inLine || g.hu[v] >= wide + parameters.callusExcessHu;
          const double dv = g.r(ir) * g.dt * g.dr * g.ds; // polar sample volume
          acc.volume[sector] += dv;
          acc.distinct[sector] += distinct ? dv : 0.0;
          acc.huVolume += dv * g.hu[v];
        }
      }
    });
    CallusCount total;
    for (std::size_t is = 0; is < perSlice.size(); ++is) { // fixed order: thread-count independent
      for (std::size_t c = 0; c < 4; ++c) {
        total.volume[c] += perSlice[is].volume[c];
        total.distinct[c] += perSlice[is].distinct[c];
      }
      total.huVolume += perSlice[is].huVolume;
      missingIntact = missingIntact || missing[is] != 0;
    }
    return total;
  };
  CallusCount count = countCallus(parameters.boneThresholdHu);
  double volume = std::accumulate(count.volume.begin(), count.volume.end(), 0.0);
  if (volume > 0) {
    const double threshold =
        std::clamp(0.5 * (count.huVolume / volume + kSoftTissueHu), 200.0, 600.0);
    count = countCallus(threshold);
    volume = std::accumulate(count.volume.begin(), count.volume.end(), 0.0);
  }
  if (missingIntact) {
    result.notes.push_back(
        "no intact shaft on either side of part of the callus zone: that part is not measured");
  }
  // Presence (category 2 against 1) is decided on these counts: what is
  // surely callus, and all that stands out from the intact shaft's edge.
  std::array<double, 4> distinctCallus{};
  std::array<double, 4> presentCallus{};
  for (std::size_t c = 0; c < 4; ++c) {
    presentCallus[c] = count.volume[c];
    distinctCallus[c] = count.distinct[c];
  }

  // Callus volume, measured apart from the presence decision. The scanner's
  // blur moves density across the callus' edges but keeps its sum, so the
  // density a sample has above the intact shaft at the same (theta, r) -- the
  // median of both bands, interpolated along the shaft -- is its share of
  // callus times the callus' density contrast. Summed over the bone's
  // neighbourhood this counts thin callus lying on the cortex (whose blurred
  // peak never reaches a threshold) and does not count the blurred edge of
  // the cortex itself. Only the fracture line does not fit: there the
  // original cortex is gone, so the line between the original cortex' inner
  // and outer surfaces counts whole where callus bridges it (and the cortex
  // has not remodelled), not at all elsewhere.
  const double bandCentre = 0.5 * (bandNear + bandFar);
  const auto weightProximal = [&](double d) {
    return std::clamp((d + bandCentre) / (2.0 * bandCentre), 0.0, 1.0);
  };
  std::vector<double> cosTheta(static_cast<std::size_t>(g.nt));
  std::vector<double> sinTheta(static_cast<std::size_t>(g.nt));
  for (int it = 0; it < g.nt; ++it) {
    cosTheta[static_cast<std::size_t>(it)] = std::cos(g.theta(it));
    sinTheta[static_cast<std::size_t>(it)] = std::sin(g.theta(it));
  }
  const auto planeDistance = [&](int is, int it, int ir) {
    return (g.s(is) - plane.s0 - plane.p * g.r(ir) * cosTheta[static_cast<std::size_t>(it)] -
            plane.q * g.r(ir) * sinTheta[static_cast<std::size_t>(it)]) *
           plane.nz();
  };
  // The cortex may drift across the polar grid along the shaft (the fitted
  // axis a fraction of a degree off the bone's own, pulled by callus, an
  // implant or the other bone): a millimetre of drift between the bands and
  // the fracture is as much density as a millimetre of callus. The intact
  // shaft beyond the callus zone tells by how much: per (s, theta) the
  // cortex's outer half-density crossing, fitted robustly as
  // R(theta) + (s - s0) (bx cos theta + by sin theta).
  std::vector<float> edge(static_cast<std::size_t>(g.ns) * g.nt, kNaN);
  // Every other slice and angle is plenty for two parameters.
  oneapi::tbb::parallel_for(0, (g.ns + 1) / 2, [&](int half) {
    const int is = 2 * half;
    for (int it = 0; it < g.nt; it += 2) {
      const double anchor = profile.cortexRadius[static_cast<std::size_t>(it / perBin)];
      if (std::isnan(anchor) ||
          std::abs(planeDistance(is, it, static_cast<int>(anchor / g.dr))) <= bandNear) {
        continue; // callus and the fracture line would pull the fit
      }
      // The cortex's peak within a cortex's thickness (4 mm) of its typical
      // radius, as the bridging map found it.
      const int lo = std::max(1, static_cast<int>((anchor - 4.0) / g.dr));
      const int hi = std::min(g.nr - 1, static_cast<int>((anchor + 4.0) / g.dr));
      int peakR = -1;
      for (int ir = lo; ir <= hi; ++ir) {
        const std::size_t v = g.at(is, it, ir);
        if (g.tibia[v] && (peakR < 0 || g.hu[v] > g.hu[g.at(is, it, peakR)])) {
          peakR = ir;
        }
      }
      if (peakR < 0 || g.hu[g.at(is, it, peakR)] < parameters.corticalThresholdHu) {
        continue;
      }
      const double level = 0.5 * (g.hu[g.at(is, it, peakR)] + kSoftTissueHu);
      int ir = peakR;
      while (ir + 1 < g.nr && g.hu[g.at(is, it, ir + 1)] >= level &&
             !g.metal[g.at(is, it, ir + 1)]) {
        ++ir;
      }
      if (ir + 1 >= g.nr || g.metal[g.at(is, it, ir + 1)]) {
        continue; // hidden by a plate
      }
      const double outside = g.hu[g.at(is, it, ir + 1)];
      const double at = g.hu[g.at(is, it, ir)];
      edge[static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it)] =
          static_cast<float>(g.r(ir) + g.dr * (at - level) / (at - outside));
    }
  });
  double driftX = 0;
  double driftY = 0;
  {
    std::vector<double> radius(static_cast<std::size_t>(g.nt), kNaN);
    double limit = 2.0; // mm from the edge: wider than any drift, narrower than callus
    for (int iteration = 0; iteration < 5; ++iteration) {
      const auto predicted = [&](int is, int it) {
        return (g.s(is) - plane.s0) * (driftX * cosTheta[static_cast<std::size_t>(it)] +
                                       driftY * sinTheta[static_cast<std::size_t>(it)]);
      };
      std::vector<double> values;
      for (int it = 0; it < g.nt; ++it) {
        values.clear();
        for (int is = 0; is < g.ns; ++is) {
          const float e = edge[static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it)];
          if (!std::isnan(e)) {
            values.push_back(e - predicted(is, it));
          }
        }
        radius[static_cast<std::size_t>(it)] = values.size() >= 5 ? median(values) : kNaN;
      }
      double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
      std::vector<double> residuals;
      for (int is = 0; is < g.ns; ++is) {
        const double along = g.s(is) - plane.s0;
        for (int it = 0; it < g.nt; ++it) {
          const float e = edge[static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it)];
          const double r0 = radius[static_cast<std::size_t>(it)];
          if (std::isnan(e) || std::isnan(r0)) {
            continue;
          }
          const double residual = e - r0 - predicted(is, it);
          residuals.push_back(std::abs(residual));
          if (std::abs(residual) > limit) {
            continue; // endosteal callus, the fracture line
          }
          const double f1 = along * cosTheta[static_cast<std::size_t>(it)];
          const double f2 = along * sinTheta[static_cast<std::size_t>(it)];
          a11 += f1 * f1;
          a12 += f1 * f2;
          a22 += f2 * f2;
          b1 += f1 * (e - r0);
          b2 += f2 * (e - r0);
        }
      }
      const double det = a11 * a22 - a12 * a12;
      if (residuals.size() < 100 || det <= 0) {
        driftX = driftY = 0;
        break;
      }
      driftX = (a22 * b1 - a12 * b2) / det;
      driftY = (a11 * b2 - a12 * b1) / det;
      limit = std::max(0.5, 3.0 * median(residuals)); // 3 typical residuals, >= 0.5 mm
    }
    if (std::hypot(driftX, driftY) > parameters.callusReferenceMaxDrift) {
      driftX = driftY = 0;
    }
  }
  const auto drift = [&](int is, int it) {
    return (g.s(is) - plane.s0) * (driftX * cosTheta[static_cast<std::size_t>(it)] +
                                   driftY * sinTheta[static_cast<std::size_t>(it)]);
  };
  // The intact shaft on either side, followed along its drift: the median
  // of the bands (every sample as it is, so noise does not bias it), per
  // (theta, r) in the cortex's own frame.
  std::vector<float> medianProximal(static_cast<std::size_t>(g.nt) * g.nr, kNaN);
  std::vector<float> medianDistal(static_cast<std::size_t>(g.nt) * g.nr, kNaN);
  oneapi::tbb::parallel_for(0, g.nt, [&](int it) {
    std::vector<double> proximalValues;
    std::vector<double> distalValues;
    for (int ir = 0; ir < g.nr; ++ir) {
      proximalValues.clear();
      distalValues.clear();
      // Only the slices of the two bands at this (theta, r).
      const double sPlane = plane.sAt(g.r(ir), g.theta(it));
      const auto slice = [&](double s) { return static_cast<int>(std::floor((s - g.s0) / g.ds)); };
      const int distalLo = std::max(0, slice(sPlane - bandFar / plane.nz()));
      const int distalHi = std::min(g.ns - 1, slice(sPlane - bandNear / plane.nz()) + 1);
      const int proximalLo = std::max(0, slice(sPlane + bandNear / plane.nz()));
      const int proximalHi = std::min(g.ns - 1, slice(sPlane + bandFar / plane.nz()) + 1);
      for (int is = distalLo; is <= proximalHi; ++is) {
        if (is > distalHi && is < proximalLo) {
          is = proximalLo - 1;
          continue;
        }
        const double d = planeDistance(is, it, ir);
        const bool proximal = d >= bandNear && d <= bandFar;
        const bool distal = d <= -bandNear && d >= -bandFar;
        if (!proximal && !distal) {
          continue;
        }
        const double x = (g.r(ir) + drift(is, it)) / g.dr;
        const int i0 = static_cast<int>(std::floor(x));
        if (i0 < 0 || i0 + 1 >= g.nr) {
          continue;
        }
        const std::size_t v0 = g.at(is, it, i0);
        const std::size_t v1 = g.at(is, it, i0 + 1);
        if (!g.inside[v0] || !g.inside[v1] || g.metal[v0] || g.metal[v1]) {
          continue;
        }
        const double f = x - i0;
        const double hu = (1 - f) * g.hu[v0] + f * g.hu[v1];
        (proximal ? proximalValues : distalValues).push_back(hu);
      }
      const std::size_t k = static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(ir);
      const auto middle = [](std::vector<double>& values) { // the median, in place
        if (values.size() < 3) {
          return kNaN;
        }
        const auto at = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
        std::nth_element(values.begin(), at, values.end());
        return *at;
      };
      medianProximal[k] = static_cast<float>(middle(proximalValues));
      medianDistal[k] = static_cast<float>(middle(distalValues));
    }
  });
  // The original cortex's surfaces per theta on each side: where the median
  // profile crosses halfway between soft tissue and its peak near the cortex.
  struct Surfaces {
    double inner = kNaN, outer = kNaN;
  };
  const auto surfacesOf = [&](const std::vector<float>& band, int it) {
    Surfaces out;
    const double anchor = profile.cortexRadius[static_cast<std::size_t>(it / perBin)];
    if (std::isnan(anchor)) {
      return out;
    }
    const auto at = [&](int ir) {
      return static_cast<double>(
          band[static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(ir)]);
    };
    const int lo = std::max(0, static_cast<int>((anchor - 3.0) / g.dr));
    const int hi = std::min(g.nr - 1, static_cast<int>((anchor + 3.0) / g.dr));
    int peakR = -1;
    for (int ir = lo; ir <= hi; ++ir) {
      if (!std::isnan(at(ir)) && (peakR < 0 || at(ir) > at(peakR))) {
        peakR = ir;
      }
    }
    if (peakR < 0 || at(peakR) < parameters.corticalThresholdHu) {
      return out;
    }
    const double half = 0.5 * (at(peakR) + kSoftTissueHu);
    int ir = peakR;
    while (ir + 1 < g.nr && !std::isnan(at(ir + 1)) && at(ir + 1) >= half) {
      ++ir;
    }
    out.outer = ir + 1 < g.nr && !std::isnan(at(ir + 1))
                    ? g.r(ir) + g.dr * (at(ir) - half) / (at(ir) - at(ir + 1))
                    : g.r(ir);
    ir = peakR;
    while (ir > 0 && !std::isnan(at(ir - 1)) && at(ir - 1) >= half) {
      --ir;
    }
    out.inner = ir > 0 && !std::isnan(at(ir - 1))
                    ? g.r(ir) - g.dr * (at(ir) - half) / (at(ir) - at(ir - 1))
                    : g.r(ir);
    return out;
  };
  std::vector<Surfaces> surfacesProximal(static_cast<std::size_t>(g.nt));
  std::vector<Surfaces> surfacesDistal(static_cast<std::size_t>(g.nt));
  for (int it = 0; it < g.nt; ++it) {
    surfacesProximal[static_cast<std::size_t>(it)] = surfacesOf(medianProximal, it);
    surfacesDistal[static_cast<std::size_t>(it)] = surfacesOf(medianDistal, it);
  }
  const auto surfacesAt = [&](int is, int it, double d) {
    const Surfaces& p = surfacesProximal[static_cast<std::size_t>(it)];
    const Surfaces& q = surfacesDistal[static_cast<std::size_t>(it)];
    const double shift = drift(is, it);
    if (std::isnan(p.outer)) {
      return Surfaces{q.inner + shift, q.outer + shift};
    }
    if (std::isnan(q.outer)) {
      return Surfaces{p.inner + shift, p.outer + shift};
    }
    const double w = weightProximal(d);
    return Surfaces{w * p.inner + (1 - w) * q.inner + shift,
                    w * p.outer + (1 - w) * q.outer + shift};
  };
  // The intact shaft at (s, theta, r): both sides' profiles at the cortex's
  // drifted radius, interpolated along the shaft.
  const auto intactAt = [&](int is, int it, int ir, double d) {
    const double x = (g.r(ir) - drift(is, it)) / g.dr;
    const int i0 = std::clamp(static_cast<int>(std::floor(x)), 0, g.nr - 2);
    const double f = std::clamp(x - i0, 0.0, 1.0);
    const std::size_t k = static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(i0);
    const double p = (1 - f) * medianProximal[k] + f * medianProximal[k + 1];
    const double q = (1 - f) * medianDistal[k] + f * medianDistal[k + 1];
    if (std::isnan(p)) {
      return q;
    }
    if (std::isnan(q)) {
      return p;
    }
    const double w = weightProximal(d);
    return w * p + (1 - w) * q;
  };
  // The slices the callus zone spans.
  int zoneFirst = g.ns;
  int zoneLast = -1;
  for (int it = 0; it < g.nt; ++it) {
    for (const double r : {0.0, g.r(g.nr - 1)}) {
      const double sPlane = plane.sAt(r, g.theta(it));
      zoneFirst = std::min(
          zoneFirst, static_cast<int>(std::floor((sPlane - zoneHalf / plane.nz() - g.s0) / g.ds)));
      zoneLast = std::max(
          zoneLast, static_cast<int>(std::ceil((sPlane + zoneHalf / plane.nz() - g.s0) / g.ds)));
    }
  }
  zoneFirst = std::max(0, zoneFirst);
  zoneLast = std::min(g.ns - 1, zoneLast);
  const double gapHalf = plane.gapMm / 2.0;
  const int neighbourhood =
      std::max(1, static_cast<int>(std::lround(parameters.callusNeighbourhoodMm / g.dr)));
  // Walks the callus zone: per column (s, theta) the samples of the bone's
  // radial neighbourhood, each with its place relative to the original cortex.
  enum class Place { Outside, Cortex, Line };
  const auto walkZone = [&](int is, auto&& visit) {
    std::vector<int> nearBone(static_cast<std::size_t>(g.nr));
    for (int it = 0; it < g.nt; ++it) {
      // Radial distance (in samples) to the nearest sample of the bone.
      int last = -1000000;
      for (int ir = 0; ir < g.nr; ++ir) {
        last = g.tibia[g.at(is, it, ir)] ? ir : last;
        nearBone[static_cast<std::size_t>(ir)] = ir - last;
      }
      last = 1000000;
      for (int ir = g.nr - 1; ir >= 0; --ir) {
        last = g.tibia[g.at(is, it, ir)] ? ir : last;
        nearBone[static_cast<std::size_t>(ir)] =
            std::min(nearBone[static_cast<std::size_t>(ir)], last - ir);
      }
      // The original cortex where this column crosses it.
      const double cortexR = profile.cortexRadius[static_cast<std::size_t>(it / perBin)];
      const Surfaces cortex = surfacesAt(
          is, it,
          planeDistance(is, it, std::isnan(cortexR) ? 0 : static_cast<int>(cortexR / g.dr)));
      for (int ir = 0; ir < g.nr; ++ir) {
        const std::size_t v = g.at(is, it, ir);
        if (nearBone[static_cast<std::size_t>(ir)] > neighbourhood || !g.inside[v] || g.metal[v] ||
            g.otherBone[v]) {
          continue;
        }
        const double d = planeDistance(is, it, ir);
        if (std::abs(d) > zoneHalf) {
          continue;
        }
        const bool inCortex =
            !std::isnan(cortex.outer) && g.r(ir) >= cortex.inner && g.r(ir) <= cortex.outer;
        const Place place = !inCortex                ? Place::Outside
                            : std::abs(d) <= gapHalf ? Place::Line
                            : std::abs(d) <= gapHalf + parameters.callusLineMarginMm
                                ? Place::Cortex
                                : Place::Outside;
        visit(it, ir, v, d, place);
      }
    }
  };
  // The scanner's radial blur, measured on the intact cortex's outer edge:
  // the 25-75% rise of a Gaussian-blurred step spans 1.35 sigma.
  double blurSigma = kNaN;
  {
    std::vector<double> widths;
    for (const std::vector<float>* band : {&medianProximal, &medianDistal}) {
      for (int it = 0; it < g.nt; ++it) {
        const Surfaces cortex = surfacesOf(*band, it);
        if (std::isnan(cortex.outer)) {
          continue;
        }
        const auto at = [&](int ir) {
          return static_cast<double>(
              (*band)[static_cast<std::size_t>(it) * g.nr + static_cast<std::size_t>(ir)]);
        };
        int ir = std::min(g.nr - 1, static_cast<int>(0.5 * (cortex.inner + cortex.outer) / g.dr));
        double peak = at(ir);
        for (int r = ir; r < g.nr && g.r(r) <= cortex.outer; ++r) {
          peak = std::max(peak, at(r));
        }
        const auto crossing = [&](double level) {
          for (int r = ir; r + 1 < g.nr; ++r) {
            if (at(r) >= level && at(r + 1) < level) {
              return g.r(r) + g.dr * (at(r) - level) / (at(r) - at(r + 1));
            }
          }
          return kNaN;
        };
        const double high = crossing(kSoftTissueHu + 0.75 * (peak - kSoftTissueHu));
        const double low = crossing(kSoftTissueHu + 0.25 * (peak - kSoftTissueHu));
        if (!std::isnan(high) && !std::isnan(low) && low > high) {
          widths.push_back((low - high) / 1.349);
        }
      }
    }
    // Typical clinical kernels: 0.5-0.8 mm; outside 0.3-2 mm the edge was no edge.
    blurSigma = widths.empty() ? 0.7 : std::clamp(median(widths), 0.3, 2.0);
  }
  // The callus' own density per cortex. Blur keeps the excess density's sum
  // across a layer of callus (its mass, density times thickness) but lowers
  // its peak when the layer is thin: for a layer of thickness t and density
  // contrast c, peak = c * erf(t / (2 sqrt 2 sigma)). Mass and peak of every
  // column (s, theta) outside the original cortex give c, the columns' median
  // weighted by mass gives the cortex's callus density.
  const double sigma = std::sqrt(blurSigma * blurSigma + 0.5 * g.dr * g.dr); // with the smoothing
  std::vector<std::array<std::vector<std::pair<float, float>>, 4>> contrasts(
      static_cast<std::size_t>(g.ns));
  // Every other slice and angle: thousands of columns tell the density.
  oneapi::tbb::parallel_for(zoneFirst, zoneLast + 1, [&](int is) {
    if ((is - zoneFirst) % 2 != 0) {
      return;
    }
    auto& mine = contrasts[static_cast<std::size_t>(is)];
    std::vector<double> excess(static_cast<std::size_t>(g.nr));
    for (int it = 0; it < g.nt; it += 2) {
      const Surfaces cortex = surfacesAt(is, it, planeDistance(is, it, 0));
      if (std::isnan(cortex.outer)) {
        continue;
      }
      const double d = planeDistance(is, it, static_cast<int>(cortex.outer / g.dr));
      if (std::abs(d) <= gapHalf + parameters.callusLineMarginMm || std::abs(d) > zoneHalf) {
        continue;
      }
      // From the middle of the cortex outward, as far as the bone's
      // neighbourhood reaches.
      const int first = static_cast<int>(0.5 * (cortex.inner + cortex.outer) / g.dr);
      int last = first;
      for (int ir = first; ir < g.nr; ++ir) {
        last = g.tibia[g.at(is, it, ir)] ? ir : last;
      }
      last = std::min(g.nr - 1, last + neighbourhood);
      bool usable = last - first >= 4;
      for (int ir = first; ir <= last && usable; ++ir) {
        const std::size_t v = g.at(is, it, ir);
        const double intact = intactAt(is, it, ir, d);
        usable = !g.metal[v] && g.inside[v] && !g.otherBone[v] && !std::isnan(intact);
        excess[static_cast<std::size_t>(ir)] = g.hu[v] - intact;
      }
      if (!usable) {
        continue;
      }
      double mass = 0;
      double peak = 0;
      for (int ir = first; ir <= last; ++ir) {
        mass += excess[static_cast<std::size_t>(ir)] * g.dr;
        if (ir > first && ir < last) {
          peak = std::max(peak, 0.25 * excess[static_cast<std::size_t>(ir - 1)] +
                                    0.5 * excess[static_cast<std::size_t>(ir)] +
                                    0.25 * excess[static_cast<std::size_t>(ir + 1)]);
        }
      }
      // Too little to tell, or no thicker than the blur allows to resolve.
      if (mass < parameters.callusDensityMinMassHuMm || peak <= parameters.callusExcessHu ||
          peak * std::sqrt(2 * kPi) * sigma >= mass) {
        continue;
      }
      double lo = peak;
      double hi = parameters.callusDensityMaxHu;
      if (lo >= hi) {
        continue;
      }
      for (int iteration = 0; iteration < 40; ++iteration) {
        const double c = 0.5 * (lo + hi);
        (c * std::erf(mass / c / (2 * std::sqrt(2.0) * sigma)) > peak ? hi : lo) = c;
      }
      mine[sectorOfAngle(g.theta(it))].emplace_back(static_cast<float>(0.5 * (lo + hi)),
                                                    static_cast<float>(mass));
    }
  });
  std::array<double, 4> callusDensity{};
  {
    std::array<std::vector<std::pair<float, float>>, 4> bySector;
    std::vector<std::pair<float, float>> all;
    for (const auto& slice : contrasts) { // slice order: thread-count independent
      for (std::size_t c = 0; c < 4; ++c) {
        bySector[c].insert(bySector[c].end(), slice[c].begin(), slice[c].end());
        all.insert(all.end(), slice[c].begin(), slice[c].end());
      }
    }
    const auto weightedMedian = [](std::vector<std::pair<float, float>>& values) {
      std::sort(values.begin(), values.end());
      double total = 0;
      for (const auto& v : values) {
        total += v.second;
      }
      double sum = 0;
      for (const auto& v : values) {
        sum += v.second;
        if (sum >= 0.5 * total) {
          return static_cast<double>(v.first);
        }
      }
      return kNaN;
    };
    const auto enough = [&](const std::vector<std::pair<float, float>>& values) {
      return static_cast<int>(values.size()) >= parameters.callusDensityMinColumns;
    };
    const double pooled =
        enough(all) ? weightedMedian(all) + kSoftTissueHu : parameters.callusDensityFallbackHu;
    for (std::size_t c = 0; c < 4; ++c) {
      callusDensity[c] = enough(bySector[c]) ? weightedMedian(bySector[c]) + kSoftTissueHu : pooled;
    }
  }
  // The volume per column (s, theta), and whether metal hides part of the
  // column near the cortex.
  std::vector<double> columnVolume(static_cast<std::size_t>(g.ns) * g.nt, 0.0);
  std::vector<std::uint8_t> columnHidden(static_cast<std::size_t>(g.ns) * g.nt, 0);
  // For the label map only (opt-in): every polar sample's share of callus,
  // the very terms columnVolume sums.
  std::vector<float> sampleShare;
  if (parameters.produceLabelMap) {
    sampleShare.assign(g.hu.size(), 0.0F);
  }
  const bool recordShares = !sampleShare.empty();
  oneapi::tbb::parallel_for(zoneFirst, zoneLast + 1, [&](int is) {
    walkZone(is, [&](int it, int ir, std::size_t v, double d, Place place) {
      const std::size_t column = static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it);
      const std::size_t sector = sectorOfAngle(g.theta(it));
      const double dv = g.r(ir) * g.dt * g.dr * g.ds;
      if (place == Place::Line) {
        const bool gapIsCallus =
            bridged[static_cast<std::size_t>(it / perBin)] == 1 && !remodelled[sector];
        columnVolume[column] += gapIsCallus ? dv : 0.0;
        if (recordShares) {
          sampleShare[v] = gapIsCallus ? 1.0F : 0.0F;
        }
        return;
      }
      if (place == Place::Cortex) {
        return;
      }
      double intact = intactAt(is, it, ir, d);
      if (std::isnan(intact)) {
        return;
      }
      // Within the fracture line the cortex is gone, and with it the blur it
      // spreads onto the tissue beside it.
      if (std::abs(d) <= gapHalf) {
        intact = std::min(intact, kSoftTissueHu);
      }
      // What callus displaces: soft tissue, fat or marrow, never cortex.
      const double displaced = std::min(intact, kSoftTissueHu);
      const double share = std::clamp((g.hu[v] - intact) / (callusDensity[sector] - displaced),
                                      -parameters.callusShareLimit, parameters.callusShareLimit);
      columnVolume[column] += share * dv;
      if (recordShares) {
        sampleShare[v] = static_cast<float>(share);
      }
    });
    // Metal next to the cortex (screws, a plate's edge) hides callus.
    for (int it = 0; it < g.nt; ++it) {
      const Surfaces cortex = surfacesAt(is, it, planeDistance(is, it, 0));
      if (std::isnan(cortex.outer)) {
        continue;
      }
      // From just inside the cortex to where a young collar ends (3 mm).
      const int lo = std::max(0, static_cast<int>((cortex.inner - 1.0) / g.dr));
      const int hi = std::min(g.nr - 1, static_cast<int>((cortex.outer + 3.0) / g.dr));
      for (int ir = lo; ir <= hi; ++ir) {
        if (g.metal[g.at(is, it, ir)]) {
          columnHidden[static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it)] = 1;
          break;
        }
      }
    }
  });
  // Columns that metal hides are filled from the visible columns beside them
  // along the shaft (callus changes slowly along it), when both lie within
  // reach; the measured part counts when it is more.
  const int fillReach =
      std::max(1, static_cast<int>(std::lround(parameters.callusHiddenFillMm / g.ds)));
  oneapi::tbb::parallel_for(0, g.nt, [&](int it) {
    const auto at = [&](int is) {
      return static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it);
    };
    int is = 0;
    while (is < g.ns) {
      if (!columnHidden[at(is)]) {
        ++is;
        continue;
      }
      int end = is;
      while (end + 1 < g.ns && columnHidden[at(end + 1)]) {
        ++end;
      }
      const int before = is - 1;
      const int after = end + 1;
      if (before >= 0 && after < g.ns && after - before <= fillReach) {
        for (int k = is; k <= end; ++k) {
          const double f = static_cast<double>(k - before) / (after - before);
          const double filled = (1 - f) * columnVolume[at(before)] + f * columnVolume[at(after)];
          if (recordShares && filled > columnVolume[at(k)]) {
            // The same interpolation per sample: the shares sum to `filled`.
            for (int ir = 0; ir < g.nr; ++ir) {
              sampleShare[g.at(k, it, ir)] =
                  static_cast<float>((1 - f) * sampleShare[g.at(before, it, ir)] +
                                     f * sampleShare[g.at(after, it, ir)]);
            }
          }
          columnVolume[at(k)] = std::max(columnVolume[at(k)], filled);
        }
      }
      is = end + 1;
    }
  });
  std::array<double, 4> callusVolume{};
  for (int is = 0; is < g.ns; ++is) { // fixed order: thread-count independent
    for (int it = 0; it < g.nt; ++it) {
      callusVolume[sectorOfAngle(g.theta(it))] +=
          columnVolume[static_cast<std::size_t>(is) * g.nt + static_cast<std::size_t>(it)];
    }
  }
  volume = 0;
  double mineral = 0;
  for (std::size_t c = 0; c < 4; ++c) {
    callusVolume[c] = std::max(0.0, callusVolume[c]);
    result.cortices[c].callusVolumeMm3 = callusVolume[c];
    volume += callusVolume[c];
    mineral += callusVolume[c] * callusDensity[c];
  }
  result.callusVolumeMm3 = volume;
  result.callusMeanHu = volume > 0 ? mineral / volume : 0;
  result.callusMineralContentUncalibrated = mineral / 1000.0;

  for (std::size_t c = 0; c < 4; ++c) {
    CtCortexResult& cortex = result.cortices[c];
    if (laterality == Laterality::Unknown && (c == static_cast<std::size_t>(Cortex::Medial) ||
                                              c == static_cast<std::size_t>(Cortex::Lateral))) {
      cortex.score.notAssessable = "laterality unknown: medial and lateral cannot be told apart";
      continue;
    }
    if (cortex.assessedBins * 2 < sectorBins[c]) {
      cortex.score.notAssessable = result.metalPresent
                                       ? "metal hides the cortex at the fracture"
                                       : "cortex outside the field of view at the fracture";
      continue;
    }
    cortex.score.bridgedFraction = fraction[c];
    if (fraction[c] >= parameters.bridgedFractionThreshold) {
      cortex.score.category =
          remodelled[c] ? CortexCategory::Remodelled : CortexCategory::BridgingCallus;
    } else {
      const bool present = distinctCallus[c] >= parameters.callusPresentMm3 ||
                           presentCallus[c] >= parameters.callusPresentTotalMm3;
      cortex.score.category =
          present ? CortexCategory::CallusVisibleLine : CortexCategory::NoCallus;
    }
  }
  UnionRuleParameters rule;
  rule.ctBridgedFractionThreshold = parameters.bridgedFractionThreshold;
  result.scores = computeUnionScores(result.cortexScores(), rule);

  stage("callus");
  // Torsional rigidity surrogate: density-weighted polar moment per slice
  // (modulus ~ density squared), the weakest slice at the fracture against
  // the intact shaft.
  std::vector<double> moment(static_cast<std::size_t>(g.ns), 0.0);
  oneapi::tbb::parallel_for(0, g.ns, [&](int is) {
    double sum = 0;
    for (int it = 0; it < g.nt; ++it) {
      for (int ir = 0; ir < g.nr; ++ir) {
        const std::size_t v = g.at(is, it, ir);
        if (g.tibia[v] && !g.metal[v] && g.hu[v] >= parameters.boneThresholdHu) {
          const double density = std::min(static_cast<double>(g.hu[v]), 2000.0) / 1000.0;
          const double r = g.r(ir);
          sum += density * density * r * r * r * g.dr * g.dt;
        }
      }
    }
    moment[static_cast<std::size_t>(is)] = sum;
  });
  std::vector<double> intact;
  double weakest = std::numeric_limits<double>::max();
  for (int is = 0; is < g.ns; ++is) {
    const double fromPlane = std::abs(g.s(is) - plane.s0);
    if (fromPlane > parameters.callusZoneHalfLengthMm &&
        fromPlane < parameters.callusZoneHalfLengthMm + 15) {
      intact.push_back(moment[static_cast<std::size_t>(is)]);
    }
    if (fromPlane <= zone) {
      weakest = std::min(weakest, moment[static_cast<std::size_t>(is)]);
    }
  }
  const double reference = median(intact);
  result.torsionalRigidityRatio =
      reference > 0 && weakest < std::numeric_limits<double>::max() ? weakest / reference : kNaN;

  // The unrolled cortex for the reader's picture.
  UnrolledCortexMap& map = result.map;
  map.columns = bins;
  map.rowSpacingMm = g.ds;
  const int firstRow = std::max(0, static_cast<int>((plane.s0 - 30.0 - g.s0) / g.ds));
  const int lastRow = std::min(g.ns - 1, static_cast<int>((plane.s0 + 30.0 - g.s0) / g.ds));
  map.rows = std::max(0, lastRow - firstRow + 1);
  map.firstRowMm = g.s(firstRow) - plane.s0;
  map.peakHu.resize(static_cast<std::size_t>(map.rows) * bins);
  for (int row = 0; row < map.rows; ++row) {
    for (int b = 0; b < bins; ++b) {
      const double v = profile.peak[static_cast<std::size_t>(firstRow + row) * bins + b];
      map.peakHu[static_cast<std::size_t>(row) * bins + b] =
          static_cast<float>(std::isnan(v) ? -1024.0 : v);
    }
  }
  for (int b = 0; b < bins; ++b) {
    const double theta = (b + 0.5) * 2 * kPi / bins;
    const double r = profile.cortexRadius[static_cast<std::size_t>(b)];
    map.fractureRow.push_back((plane.sAt(std::isnan(r) ? 0.0 : r, theta) - g.s(firstRow)) / g.ds);
  }
  map.bridgedColumns = bridged;
  map.sectorCentreColumn = {bins * 0.25, bins * 0.75, 0.0, bins * 0.5};
  stage("rigidity_and_map");
  if (parameters.produceLabelMap) {
    std::vector<std::uint8_t> callus;
    const double labelled =
        polarCallusMask(g, sampleShare, columnVolume, zoneFirst, zoneLast, callus);
    if (std::abs(labelled - result.callusVolumeMm3) >
        std::max(1.0, 0.01 * result.callusVolumeMm3)) {
      result.notes.push_back("label map: its callus differs from the measured volume by " +
                             std::to_string(static_cast<long>(labelled - result.callusVolumeMm3)) +
                             " mm3");
    }
    result.labels = cartesianLabelMap(ct, g, callus, parameters, axis.point, u, medial, anterior);
    stage("label_map");
  }
  return result;
}

} // namespace unionscope
