// Renders one visit of a phantom patient: an analytic model of a healing tibial
// shaft fracture evaluated on the CT grid, then the scanner's partial-volume
// blur, metal streaks and noise; and parallel-beam projection radiographs.

#include "PhantomInternal.h"
#include "PhantomRandom.h"

#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace unionscope::phantom {
namespace {

constexpr double kDeg = M_PI / 180.0;

// Material values. Typical clinical ranges (DESIGN.md): cortical bone
// 1200-2000 HU, woven callus 300-1000 HU, marrow and soft tissue -100-100 HU.
constexpr double kAirHu = -1000;
constexpr double kFatHu = -90;
constexpr double kMuscleHu = 45;
constexpr double kMarrowHu = -30;
constexpr double kGapTissueHu = 60;
constexpr double kCortexHu = 1550;
constexpr double kRemodelledGapHu = 1300;
constexpr double kFibulaCortexHu = 1450;
/// Metal enters the blur with this value: the bloom around implants on real CT.
constexpr double kMetalBlurHu = 6000;
/// Linear attenuation for the radiographs, 1/mm at an effective ~55 keV.
constexpr double kWaterMu = 0.021;
constexpr double kMetalMu = 0.2; // between titanium and steel
constexpr double kCtNoiseHu = 18;

Vec3 rotate(const Vec3& v, double ax, double ay, double az) {
  // Rotation about x, then y, then z (radians).
  Vec3 r = v;
  r = {r.x, r.y * std::cos(ax) - r.z * std::sin(ax), r.y * std::sin(ax) + r.z * std::cos(ax)};
  r = {r.x * std::cos(ay) + r.z * std::sin(ay), r.y, -r.x * std::sin(ay) + r.z * std::cos(ay)};
  r = {r.x * std::cos(az) - r.y * std::sin(az), r.x * std::sin(az) + r.y * std::cos(az), r.z};
  return r;
}

Vec3 rotateAbout(const Vec3& v, const Vec3& unitAxis, double angle) {
  // Rodrigues' formula.
  const Vec3 cross{unitAxis.y * v.z - unitAxis.z * v.y, unitAxis.z * v.x - unitAxis.x * v.z,
                   unitAxis.x * v.y - unitAxis.y * v.x};
  return v * std::cos(angle) + cross * std::sin(angle) +
         unitAxis * (unitAxis.dot(v) * (1.0 - std::cos(angle)));
}

double wrapAngle(double a) {
  return std::remainder(a, 2.0 * M_PI);
}

/// Sector centres in the limb frame, indexed by Cortex (anterior, posterior,
/// medial, lateral).
constexpr std::array<double, 4> kSectorCentre{90 * kDeg, -90 * kDeg, 0.0, 180 * kDeg};

std::size_t sectorOf(double theta) {
  std::size_t best = 0;
  double bestDistance = 10;
  for (std::size_t c = 0; c < 4; ++c) {
    const double distance = std::abs(wrapAngle(theta - kSectorCentre[c]));
    if (distance < bestDistance) {
      bestDistance = distance;
      best = c;
    }
  }
  return best;
}

struct Sample {
  Label label;
  double hu;
};

/// The analytic phantom of one visit, in limb coordinates.
class Anatomy {
public:
  Anatomy(const PatientSpec& spec, std::size_t visitIndex)
      : spec_(spec), visit_(spec.visits.at(visitIndex)), centre_(fractureCentreLimb(spec)),
        normal_(fractureNormalLimb(spec)) {
    r0_ = spec.tibiaRadiusMm;
    t0_ = spec.cortexThicknessMm;
    gapHalf_ = spec.gapMm / 2.0;
    collarHalfLength_ = 2.2 * r0_ * 0.5 + 4.0;
    double minInner = 1e9;
    for (int a = 0; a < 360; ++a) {
      minInner = std::min(minInner, innerRadius(a * kDeg));
    }
    nailRadius_ = std::clamp(minInner - 0.8, 3.5, 5.0);
    const double halfLength = spec.voxels[2] * spec.spacingMm[2] / 2.0;
    nailScrewOffset_ = std::min(35.0, halfLength - 6.0);
    pinFar_ = std::min(42.0, halfLength - 6.0);
    pinNear_ = std::max(collarHalfLength_ + 5.0, pinFar_ - 16.0);
    // The anteromedial skin lies about 2.75 radii from the axis (the soft
    // tissue envelope in evaluate). The rod stays 16 mm inside the volume's
    // sides (the limb's pose moves it a few mm per visit).
    const double halfX = 0.5 * spec.voxels[0] * spec.spacingMm[0] - 16.0;
    const double halfY = 0.5 * spec.voxels[1] * spec.spacingMm[1] - 16.0;
    rodDistance_ =
        std::min({2.75 * r0_ + 20.0, halfX / std::cos(kRodTheta), halfY / std::sin(kRodTheta)});
    maxCollar_ = 0;
    for (const CortexState& s : visit_.cortices) {
      maxCollar_ = std::max(maxCollar_, s.callusThicknessMm);
    }
    boneReach_ = r0_ * 1.25 + maxCollar_ + 6.0;
  }

  [[nodiscard]] double outerRadius(double theta) const { return tibiaOuterRadius(spec_, theta); }
  [[nodiscard]] double innerRadius(double theta) const {
    return outerRadius(theta) - t0_ * (1.0 + 0.25 * std::cos(theta - 90 * kDeg));
  }

  [[nodiscard]] Sample evaluate(const Vec3& q) const {
    if (isMetal(q)) {
      return {kMetal, kMetalBlurHu};
    }
    // Soft tissue envelope: muscle inside a subcutaneous fat layer.
    const double ex = (q.x + 0.9 * r0_) / (4.0 * r0_);
    const double ey = (q.y + 0.5 * r0_) / (3.5 * r0_);
    const double envelope = ex * ex + ey * ey;
    if (envelope > 1.0) {
      return {kAir, kAirHu};
    }
    const double ix = (q.x + 0.9 * r0_) / (4.0 * r0_ - 5.0);
    const double iy = (q.y + 0.5 * r0_) / (3.5 * r0_ - 5.0);
    const Sample tissue =
        ix * ix + iy * iy > 1.0 ? Sample{kFat, kFatHu} : Sample{kSoftTissue, kMuscleHu};

    if (const auto fibula = evaluateFibula(q)) {
      return *fibula;
    }
    const double r = std::hypot(q.x, q.y);
    if (r > boneReach_) {
      return tissue;
    }
    return evaluateTibia(q, r, tissue);
  }

private:
  [[nodiscard]] double distanceToFracturePlane(const Vec3& q) const {
    return (q - centre_).dot(normal_);
  }

  [[nodiscard]] bool inBridgedArc(std::size_t sector, double theta) const {
    const CortexState& s = visit_.cortices[sector];
    if (s.category == CortexCategory::Remodelled) {
      return true;
    }
    if (s.category != CortexCategory::BridgingCallus) {
      return false;
    }
    const double centre = kSectorCentre[sector] + s.bridgeCentreDeg * kDeg;
    return std::abs(wrapAngle(theta - centre)) <= s.bridgedFraction * 45.0 * kDeg;
  }

  /// Periosteal collar thickness and density, blended smoothly between the
  /// sectors so callus does not end in a step at a sector boundary.
  void collarAt(double theta, double& thickness, double& hu) const {
    double weightSum = 0;
    double thicknessSum = 0;
    double huSum = 0;
    for (std::size_t c = 0; c < 4; ++c) {
      const double w = std::exp(6.0 * (std::cos(theta - kSectorCentre[c]) - 1.0));
      const CortexState& s = visit_.cortices[c];
      weightSum += w;
      thicknessSum += w * s.callusThicknessMm;
      huSum += w * s.callusThicknessMm * s.callusHu;
    }
    thickness = thicknessSum / weightSum;
    hu = thicknessSum > 0 ? huSum / thicknessSum : 0;
  }

  [[nodiscard]] Sample evaluateTibia(const Vec3& q, double r, const Sample& tissue) const {
    const double theta = std::atan2(q.y, q.x);
    const double outer = outerRadius(theta);
    const double inner = innerRadius(theta);
    const double d = distanceToFracturePlane(q);
    const bool inGap = std::abs(d) < gapHalf_;
    const std::size_t sector = sectorOf(theta);
    const CortexState& state = visit_.cortices[sector];
    const bool bridged = inBridgedArc(sector, theta);

    if (r >= inner && r <= outer) {
      if (!inGap) {
        return {kCortex, kCortexHu};
      }
      if (state.category == CortexCategory::Remodelled) {
        return {kCortex, kRemodelledGapHu};
      }
      if (bridged) {
        // Intercortical callus: mineralised but less dense than cortex, so the
        // fracture line stays visible.
        return {kCallus, 0.9 * state.callusHu};
      }
      return {kGapTissue, kGapTissueHu};
    }
    if (r < inner) {
      // Endosteal callus lines the canal near the gap.
      const double endostealHalfLength = 6.0;
      if (state.category != CortexCategory::NoCallus && std::abs(d) < endostealHalfLength) {
        const double u = d / endostealHalfLength;
        const double thickness = std::min(0.4 * state.callusThicknessMm, 2.5) * (1.0 - u * u);
        if (r > inner - thickness) {
          if (inGap && !bridged) {
            return {kGapTissue, kGapTissueHu};
          }
          return {kCallus, state.callusHu};
        }
      }
      return inGap ? Sample{kGapTissue, kGapTissueHu} : Sample{kMarrow, kMarrowHu};
    }
    // Periosteal collar: fusiform, thickest at the gap.
    if (std::abs(d) < collarHalfLength_) {
      double thickness = 0;
      double hu = 0;
      collarAt(theta, thickness, hu);
      const double u = d / collarHalfLength_;
      if (thickness > 0 && r < outer + thickness * (1.0 - u * u)) {
        if (inGap && !bridged) {
          return {kGapTissue, kGapTissueHu}; // the cleft of an unbridged collar
        }
        return {kCallus, hu};
      }
    }
    return tissue;
  }

  [[nodiscard]] std::optional<Sample> evaluateFibula(const Vec3& q) const {
    const double scale = r0_ / 11.0;
    const double fx = q.x + (r0_ + 12.0 * scale);
    const double fy = q.y + 0.6 * r0_;
    const double rf = std::hypot(fx, fy);
    const double outer = 7.0 * scale;
    if (rf > outer) {
      return std::nullopt;
    }
    return rf > outer - 2.0 * scale ? Sample{kFibula, kFibulaCortexHu} : Sample{kMarrow, kMarrowHu};
  }

  [[nodiscard]] bool isMetal(const Vec3& q) const {
    switch (spec_.implant) {
    case Implant::None:
      return false;
    case Implant::Nail: {
      const double r = std::hypot(q.x, q.y);
      if (r < nailRadius_ && r > 1.8) { // cannulated nail
        return true;
      }
      for (double offset : {-nailScrewOffset_, nailScrewOffset_}) {
        const double rho = std::hypot(q.y, q.z - centre_.z - offset);
        if (rho < 2.2 && std::abs(q.x) < r0_ * 1.35 + 3.0) {
          return true;
        }
      }
      return false;
    }
    case Implant::Plate: {
      const double face = outerRadius(0.0);
      const double top = face + 4.3;
      if (q.x > face + 0.3 && q.x < top && std::abs(q.y) < 6.5 &&
          std::abs(q.z - centre_.z) < 45.0) {
        return true;
      }
      for (double offset : {-28.0, -18.0, -9.0, 9.0, 18.0, 28.0}) {
        const double rho = std::hypot(q.y, q.z - centre_.z - offset);
        if (rho < 1.9 && q.x < top && q.x > -(outerRadius(M_PI) + 2.0)) {
          return true;
        }
      }
      return false;
    }
    case Implant::ExternalFixator:
      return inExternalFixator(q);
    }
    return false;
  }

  /// A uniplanar anteromedial frame (the tibia's safe corridor): two 5 mm
  /// pins through both cortices of each fragment, clamped to one 11 mm rod
  /// in front of the limb, 30 degrees medial of straight ahead (limb frame:
  /// +x medial, away from the fibula; +y anterior). The near pins stand 5 mm
  /// past the callus collar's end along the shaft (an oblique fracture's
  /// collar, measured from its plane, can reach them). The rod stands 2 cm
  /// off the skin, or less where the volume ends (1 cm on the small
  /// preset). Beside the limb the rod projects grey, not saturated: the
  /// film's window is set for the limb's thickness.
  [[nodiscard]] bool inExternalFixator(const Vec3& q) const {
    const double z = q.z - centre_.z;
    const double dx = std::cos(kRodTheta);
    const double dy = std::sin(kRodTheta);
    const double along = q.x * dx + q.y * dy; // from the bone's axis toward the rod
    const double across = q.x * dy - q.y * dx;
    if (std::hypot(across, along - rodDistance_) < 5.5) {
      return true;
    }
    // The pins' tips stand 3 mm past the far cortex.
    const double tip = -(outerRadius(kRodTheta + M_PI) + 3.0);
    for (double offset : {-pinFar_, -pinNear_, pinNear_, pinFar_}) {
      const double dz = z - offset;
      if (std::hypot(across, dz) < 2.5 && along > tip && along < rodDistance_) {
        return true;
      }
      // The pin-to-rod clamp.
      if (std::abs(across) < 8.0 && std::abs(along - rodDistance_) < 8.0 && std::abs(dz) < 7.0) {
        return true;
      }
    }
    return false;
  }

  const PatientSpec& spec_;
  const VisitPlan& visit_;
  Vec3 centre_, normal_;
  double r0_ = 11, t0_ = 4.5, gapHalf_ = 1.25, collarHalfLength_ = 16;
  double nailRadius_ = 4.5, nailScrewOffset_ = 35, maxCollar_ = 0, boneReach_ = 30;
  /// The rod's direction from the bone's axis: 30 degrees medial of
  /// anterior (+y), measured from medial (+x).
  static constexpr double kRodTheta = 60 * kDeg;
  double pinNear_ = 20, pinFar_ = 36, rodDistance_ = 60;
};

/// Separable Gaussian blur of a float volume along the axes with sigma > 0
/// (in voxels). Each line is independent, so the result does not depend on
/// how TBB splits the work.
void gaussianBlur(std::vector<float>& data, const std::array<int, 3>& dims,
                  const std::array<double, 3>& sigma) {
  const std::array<std::size_t, 3> stride{1, static_cast<std::size_t>(dims[0]),
                                          static_cast<std::size_t>(dims[0]) * dims[1]};
  for (int axis = 0; axis < 3; ++axis) {
    if (sigma[axis] <= 0) {
      continue;
    }
    const int radius = static_cast<int>(std::ceil(3.0 * sigma[axis]));
    std::vector<double> kernel(2 * radius + 1);
    for (int t = -radius; t <= radius; ++t) {
      kernel[t + radius] = std::exp(-0.5 * t * t / (sigma[axis] * sigma[axis]));
    }
    const double sum = std::accumulate(kernel.begin(), kernel.end(), 0.0);
    for (double& k : kernel) {
      k /= sum;
    }
    const int length = dims[axis];
    const int a1 = (axis + 1) % 3;
    const int a2 = (axis + 2) % 3;
    const std::size_t lines = static_cast<std::size_t>(dims[a1]) * dims[a2];
    oneapi::tbb::parallel_for(std::size_t{0}, lines, [&](std::size_t line) {
      const std::size_t u = line % dims[a1];
      const std::size_t v = line / dims[a1];
      const std::size_t base = u * stride[a1] + v * stride[a2];
      std::vector<float> in(length);
      for (int t = 0; t < length; ++t) {
        in[t] = data[base + t * stride[axis]];
      }
      for (int t = 0; t < length; ++t) {
        double acc = 0;
        for (int o = -radius; o <= radius; ++o) {
          const int s = std::clamp(t + o, 0, length - 1); // replicate the edge
          acc += kernel[o + radius] * in[s];
        }
        data[base + t * stride[axis]] = static_cast<float>(acc);
      }
    });
  }
}

/// Streaks from photon starvation and beam hardening: dark bands along the
/// metal's long axis, bright bands across it, fading with distance.
void addMetalStreaks(std::vector<float>& hu, const std::vector<std::uint8_t>& labels,
                     const std::array<int, 3>& dims, const std::array<double, 3>& spacing,
                     std::uint64_t seed) {
  const std::size_t slicePixels = static_cast<std::size_t>(dims[0]) * dims[1];
  oneapi::tbb::parallel_for(0, dims[2], [&](int k) {
    const std::size_t base = slicePixels * k;
    double n = 0, sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
    for (int j = 0; j < dims[1]; ++j) {
      for (int i = 0; i < dims[0]; ++i) {
        if (labels[base + j * dims[0] + i] == kMetal) {
          const double x = i * spacing[0];
          const double y = j * spacing[1];
          n += 1;
          sx += x;
          sy += y;
          sxx += x * x;
          syy += y * y;
          sxy += x * y;
        }
      }
    }
    if (n == 0) {
      return;
    }
    const double cx = sx / n;
    const double cy = sy / n;
    const double vxx = sxx / n - cx * cx;
    const double vyy = syy / n - cy * cy;
    const double vxy = sxy / n - cx * cy;
    const double alpha = 0.5 * std::atan2(2 * vxy, vxx - vyy);
    const double area = n * spacing[0] * spacing[1];
    const double radius = std::sqrt(std::max(vxx + vyy, 0.0) * 2.0) + 1.0;
    const double amplitude = std::clamp(25.0 * std::sqrt(area), 100.0, 500.0);
    // One phase for the whole volume: streaks of neighbouring slices line up
    // as they do on a scanner, rather than flickering from slice to slice.
    const double phase = Rng(seed, 1000).uniform(0, 2 * M_PI);
    for (int j = 0; j < dims[1]; ++j) {
      for (int i = 0; i < dims[0]; ++i) {
        const std::size_t idx = base + j * dims[0] + i;
        if (labels[idx] == kMetal || labels[idx] == kAir) {
          continue;
        }
        const double dx = i * spacing[0] - cx;
        const double dy = j * spacing[1] - cy;
        const double r = std::hypot(dx, dy);
        const double phi = std::atan2(dy, dx);
        const double fade = std::exp(-std::max(0.0, r - radius) / 20.0);
        const double bands = 0.6 + 0.4 * std::cos(14.0 * phi + phase);
        hu[idx] += static_cast<float>(-amplitude * std::cos(2.0 * (phi - alpha)) * fade * bands);
      }
    }
  });
}

} // namespace

double tibiaOuterRadius(const PatientSpec& spec, double theta) {
  const double a = theta - 90 * kDeg;
  return spec.tibiaRadiusMm * (1.0 + 0.12 * std::cos(a) + 0.08 * std::cos(3.0 * a));
}

Vec3 fractureCentreLimb(const PatientSpec& spec) {
  Rng rng(spec.seed, 7);
  return {0, 0, rng.uniform(-5, 5)};
}

Vec3 fractureNormalLimb(const PatientSpec& spec) {
  const double phi = spec.fractureObliquityDeg * kDeg;
  const double psi = spec.fractureAzimuthDeg * kDeg;
  return {std::sin(phi) * std::cos(psi), std::sin(phi) * std::sin(psi), std::cos(phi)};
}

LimbFrame limbFrame(const PatientSpec& spec, std::size_t visitIndex) {
  // LPS: patient left +x, posterior +y, head +z. The medial side of a right
  // limb faces +x (toward the midline), of a left limb -x.
  const double medialSign = spec.laterality == 'R' ? 1.0 : -1.0;
  Vec3 medial{medialSign, 0, 0};
  Vec3 anterior{0, -1, 0};
  Vec3 axis{0, 0, 1};
  const double az = spec.shaftTiltAzimuthDeg * kDeg;
  const Vec3 tiltAxis{std::cos(az), std::sin(az), 0};
  const double tilt = spec.shaftTiltDeg * kDeg;
  medial = rotateAbout(medial, tiltAxis, tilt);
  anterior = rotateAbout(anterior, tiltAxis, tilt);
  axis = rotateAbout(axis, tiltAxis, tilt);
  const std::array<double, 6>& pose = spec.visitPoses.at(visitIndex);
  medial = rotate(medial, pose[0] * kDeg, pose[1] * kDeg, pose[2] * kDeg);
  anterior = rotate(anterior, pose[0] * kDeg, pose[1] * kDeg, pose[2] * kDeg);
  axis = rotate(axis, pose[0] * kDeg, pose[1] * kDeg, pose[2] * kDeg);
  // The leg lies on the patient's side of the table: right leg at -x.
  const Vec3 tableCentre{-medialSign * 90.0, 0.0, -350.0};
  return {tableCentre + Vec3{pose[3], pose[4], pose[5]}, medial, anterior, axis};
}

RenderedVisit renderVisit(const PatientSpec& spec, std::size_t visitIndex) {
  const Anatomy anatomy(spec, visitIndex);
  const LimbFrame frame = limbFrame(spec, visitIndex);
  const std::array<int, 3>& n = spec.voxels;
  const std::array<double, 3>& s = spec.spacingMm;
  const std::size_t count = static_cast<std::size_t>(n[0]) * n[1] * n[2];
  // The scanner's field of view is fixed on the table; the limb moves in it.
  const Vec3 tableCentre{(spec.laterality == 'R' ? -90.0 : 90.0), 0.0, -350.0};
  const Vec3 origin =
      tableCentre - Vec3{(n[0] - 1) * s[0] / 2, (n[1] - 1) * s[1] / 2, (n[2] - 1) * s[2] / 2};

  std::vector<float> hu(count);
  std::vector<std::uint8_t> labels(count);
  std::vector<float> attenuation(count);
  const std::size_t slicePixels = static_cast<std::size_t>(n[0]) * n[1];
  oneapi::tbb::parallel_for(0, n[2], [&](int k) {
    for (int j = 0; j < n[1]; ++j) {
      for (int i = 0; i < n[0]; ++i) {
        const Vec3 p = origin + Vec3{i * s[0], j * s[1], k * s[2]};
        const Sample sample = anatomy.evaluate(frame.toLimb(p));
        const std::size_t idx = k * slicePixels + static_cast<std::size_t>(j) * n[0] + i;
        hu[idx] = static_cast<float>(sample.hu);
        labels[idx] = sample.label;
        attenuation[idx] = static_cast<float>(
            sample.label == kMetal ? kMetalMu
                                   : std::max(0.0, kWaterMu * (1.0 + sample.hu / 1000.0)));
      }
    }
  });

  // Partial volume: the scanner's point spread, a little wider in plane.
  gaussianBlur(hu, n, {0.7, 0.7, 0.5});
  addMetalStreaks(hu, labels, n, s, spec.seed * 31 + visitIndex);

  RenderedVisit result;
  VisitVolume& ct = result.ct;
  ct.hu = CtImage::New();
  ct.labels = MaskImage::New();
  CtImage::RegionType region;
  region.SetSize({{static_cast<itk::SizeValueType>(n[0]), static_cast<itk::SizeValueType>(n[1]),
                   static_cast<itk::SizeValueType>(n[2])}});
  const double spacing[3] = {s[0], s[1], s[2]};
  const double originArray[3] = {origin.x, origin.y, origin.z};
  for (auto* image : {static_cast<itk::ImageBase<3>*>(ct.hu.GetPointer()),
                      static_cast<itk::ImageBase<3>*>(ct.labels.GetPointer())}) {
    image->SetRegions(region);
    image->SetSpacing(spacing);
    image->SetOrigin(originArray);
  }
  ct.hu->Allocate();
  ct.labels->Allocate();
  std::copy(labels.begin(), labels.end(), ct.labels->GetBufferPointer());
  std::int16_t* out = ct.hu->GetBufferPointer();
  oneapi::tbb::parallel_for(0, n[2], [&](int k) {
    // One noise stream per slice: identical output whatever the thread count.
    Rng rng(spec.seed * 977 + visitIndex, static_cast<std::uint64_t>(k));
    for (std::size_t idx = k * slicePixels; idx < (k + 1) * slicePixels; ++idx) {
      const double noisy = hu[idx] + (labels[idx] == kAir ? 4.0 : kCtNoiseHu) * rng.normal();
      out[idx] = static_cast<std::int16_t>(std::clamp(std::nearbyint(noisy), -1024.0, 3071.0));
    }
  });

  const std::size_t callusVoxels =
      static_cast<std::size_t>(std::count(labels.begin(), labels.end(), std::uint8_t{kCallus}));
  ct.callusVolumeMm3 = static_cast<double>(callusVoxels) * s[0] * s[1] * s[2];
  const Vec3 centre = frame.toPatient(fractureCentreLimb(spec));
  const Vec3 normalLimb = fractureNormalLimb(spec);
  const Vec3 normal =
      frame.medial * normalLimb.x + frame.anterior * normalLimb.y + frame.axis * normalLimb.z;
  ct.fractureCenter = centre.array();
  ct.fractureNormal = normal.array();
  ct.shaftAxis = frame.axis.array();
  ct.anterior = frame.anterior.array();
  ct.medial = frame.medial.array();
  result.attenuation = std::move(attenuation);
  result.frame = frame;
  return result;
}

std::array<double, 3> VisitMotion::apply(const std::array<double, 3>& x) const {
  std::array<double, 3> y = to;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      y[r] += rotation[r * 3 + c] * (x[c] - from[c]);
    }
  }
  return y;
}

VisitMotion visitMotion(const VisitVolume& reference, const VisitVolume& followUp) {
  // A limb point q is at origin_v + M_v q at visit v (M_v's columns: the
  // medial, anterior and shaft axes), so a reference point x is at
  // M_1 M_0^T (x - c_0) + c_1 in the follow-up, c being the fracture centre.
  const auto axis = [](const VisitVolume& visit, int column) -> const std::array<double, 3>& {
    return column == 0 ? visit.medial : column == 1 ? visit.anterior : visit.shaftAxis;
  };
  VisitMotion motion;
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      double sum = 0;
      for (int k = 0; k < 3; ++k) {
        sum += axis(followUp, k)[r] * axis(reference, k)[c];
      }
      motion.rotation[r * 3 + c] = sum;
    }
  }
  motion.from = reference.fractureCenter;
  motion.to = followUp.fractureCenter;
  return motion;
}

VisitVolume renderVisitCt(const PatientSpec& spec, std::size_t visitIndex) {
  return renderVisit(spec, visitIndex).ct;
}

ProjectionRadiograph projectRadiograph(const PatientSpec& spec, const RenderedVisit& visit,
                                       std::size_t visitIndex, View view) {
  const std::array<int, 3>& n = spec.voxels;
  const std::array<double, 3>& s = spec.spacingMm;
  // AP: the beam runs along y and the image columns along x (toward the
  // patient's left). Lateral: the beam runs along x, columns along y
  // (toward posterior). Rows run from head to foot in both.
  const int across = view == View::AP ? 0 : 1;
  const int beam = view == View::AP ? 1 : 0;
  const int width = n[across];
  const int height = n[2];
  const std::size_t slicePixels = static_cast<std::size_t>(n[0]) * n[1];
  std::vector<double> integral(static_cast<std::size_t>(width) * height, 0.0);
  // The path (mm) each ray runs through metal, for the truth's metal mask.
  std::vector<double> metalPath(integral.size(), 0.0);
  const std::uint8_t* labels = visit.ct.labels->GetBufferPointer();
  oneapi::tbb::parallel_for(0, height, [&](int k) {
    for (int a = 0; a < width; ++a) {
      double sum = 0;
      int metalVoxels = 0;
      for (int b = 0; b < n[beam]; ++b) {
        const int i = view == View::AP ? a : b;
        const int j = view == View::AP ? b : a;
        const std::size_t idx = k * slicePixels + static_cast<std::size_t>(j) * n[0] + i;
        sum += visit.attenuation[idx];
        metalVoxels += labels[idx] == kMetal ? 1 : 0;
      }
      integral[static_cast<std::size_t>(k) * width + a] = sum * s[beam];
      metalPath[static_cast<std::size_t>(k) * width + a] = metalVoxels * s[beam];
    }
  });

  const double pixel = spec.radiographPixelMm;
  const int columns = static_cast<int>(std::floor(width * s[across] / pixel));
  const int rows = static_cast<int>(std::floor(height * s[2] / pixel));
  std::vector<float> image(static_cast<std::size_t>(columns) * rows);
  ProjectionRadiograph result;
  result.metal.assign(image.size(), 0);
  // Log-processed detector signal with a presentation window as DX systems
  // apply: thin soft tissue dark grey, bone bright, metal saturated.
  constexpr double kWindowLow = 0.9;
  constexpr double kWindowHigh = 3.6;
  // A ray through half a millimetre of metal or more is metal in the truth.
  constexpr double kMetalPathMm = 0.5;
  oneapi::tbb::parallel_for(0, rows, [&](int row) {
    for (int col = 0; col < columns; ++col) {
      // Pixel centre in projection-grid coordinates; rows start at the head.
      const double u = std::clamp((col + 0.5) * pixel / s[across] - 0.5, 0.0, width - 1.0);
      const double v =
          std::clamp((height - 1.0) - ((row + 0.5) * pixel / s[2] - 0.5), 0.0, height - 1.0);
      const int u0 = std::min(static_cast<int>(u), width - 2);
      const int v0 = std::min(static_cast<int>(v), height - 2);
      const double fu = u - u0;
      const double fv = v - v0;
      const auto bilinear = [&](const std::vector<double>& grid) {
        const auto at = [&](int uu, int vv) {
          return grid[static_cast<std::size_t>(vv) * width + uu];
        };
        return (1 - fu) * (1 - fv) * at(u0, v0) + fu * (1 - fv) * at(u0 + 1, v0) +
               (1 - fu) * fv * at(u0, v0 + 1) + fu * fv * at(u0 + 1, v0 + 1);
      };
      const std::size_t out = static_cast<std::size_t>(row) * columns + col;
      image[out] = static_cast<float>(
          std::max(0.0, (bilinear(integral) - kWindowLow) / (kWindowHigh - kWindowLow)));
      result.metal[out] = bilinear(metalPath) >= kMetalPathMm ? 255 : 0;
    }
  });
  gaussianBlur(image, {columns, rows, 1}, {0.8, 0.8, 0});
  oneapi::tbb::parallel_for(0, rows, [&](int row) {
    Rng rng(spec.seed * 131 + visitIndex * 2 + (view == View::AP ? 0 : 1),
            static_cast<std::uint64_t>(row));
    for (int col = 0; col < columns; ++col) {
      float& p = image[static_cast<std::size_t>(row) * columns + col];
      p = static_cast<float>(std::clamp(p + 0.006 * rng.normal(), 0.0, 1.0));
    }
  });

  result.image = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize(
      {{static_cast<itk::SizeValueType>(columns), static_cast<itk::SizeValueType>(rows)}});
  result.image->SetRegions(region);
  const double spacing2[2] = {pixel, pixel};
  result.image->SetSpacing(spacing2);
  result.image->Allocate();
  std::copy(image.begin(), image.end(), result.image->GetBufferPointer());

  // Where the fracture plane meets the outer cortex on the two cortices this
  // view shows, projected to pixels.
  const Vec3 centre = fractureCentreLimb(spec);
  const Vec3 normal = fractureNormalLimb(spec);
  const Vec3 origin{visit.ct.hu->GetOrigin()[0], visit.ct.hu->GetOrigin()[1],
                    visit.ct.hu->GetOrigin()[2]};
  const double topZ = origin.z + (n[2] - 0.5) * s[2];
  const double leftEdge = (view == View::AP ? origin.x : origin.y) - 0.5 * s[across];
  for (int e = 0; e < 2; ++e) {
    const double theta = view == View::AP ? (e == 0 ? 0.0 : M_PI) : (e == 0 ? M_PI / 2 : -M_PI / 2);
    const double r = tibiaOuterRadius(spec, theta);
    Vec3 q{r * std::cos(theta), r * std::sin(theta), centre.z};
    q.z -= (q.x * normal.x + q.y * normal.y) / normal.z; // onto the plane
    const Vec3 p = visit.frame.toPatient(q);
    const double acrossMm = view == View::AP ? p.x : p.y;
    result.fractureLine[e] = {(acrossMm - leftEdge) / pixel, (topZ - p.z) / pixel};
  }
  return result;
}

} // namespace unionscope::phantom
