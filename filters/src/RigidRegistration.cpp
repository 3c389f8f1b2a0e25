// Rigid registration of a follow-up CT to the reference visit on bone away
// from the fracture. The only translation unit that instantiates ITK's v4
// registration templates (they compile slowly).

#include "unionscope/filters/RigidRegistration.h"

#include <itkEuler3DTransform.h>
#include <itkImageMaskSpatialObject.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkMeanSquaresImageToImageMetricv4.h>
#include <itkRegularStepGradientDescentOptimizerv4.h>
#include <itkTransformFactoryBase.h>
#include <itkTransformFileWriter.h>
#include <itkTxtTransformIOFactory.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <sstream>
#include <stdexcept>

namespace unionscope {
namespace {

using FloatImage = itk::Image<float, 3>;
using Transform = itk::Euler3DTransform<double>;
using MeanSquares = itk::MeanSquaresImageToImageMetricv4<FloatImage, FloatImage>;
using Optimizer = itk::RegularStepGradientDescentOptimizerv4<double>;
using Method = itk::ImageRegistrationMethodv4<FloatImage, FloatImage, Transform>;
using MaskObject = itk::ImageMaskSpatialObject<3>;

using Vec = std::array<double, 3>;

/// Mean squares summed in one work unit. The metric's domain threaders split
/// the samples into ITK's default number of work units, which follows the
/// global thread count (MaximumNumberOfWorkUnits only caps the threads), and
/// add the partial sums in that split's order: floating-point results would
/// then differ between --threads 1 and 2. One unit, one order.
class SingleWorkUnitMeanSquares : public MeanSquares {
public:
  ITK_DISALLOW_COPY_AND_MOVE(SingleWorkUnitMeanSquares);
  using Self = SingleWorkUnitMeanSquares;
  using Superclass = MeanSquares;
  using Pointer = itk::SmartPointer<Self>;
  itkNewMacro(Self) itkTypeMacro(SingleWorkUnitMeanSquares, MeanSquaresImageToImageMetricv4)

      void Initialize() override {
    Superclass::Initialize();
    singleUnit();
  }

protected:
  SingleWorkUnitMeanSquares() { singleUnit(); }
  ~SingleWorkUnitMeanSquares() override = default;

private:
  void singleUnit() {
    this->SetMaximumNumberOfWorkUnits(1);
    this->m_SparseGetValueAndDerivativeThreader->SetNumberOfWorkUnits(1);
    this->m_DenseGetValueAndDerivativeThreader->SetNumberOfWorkUnits(1);
  }
};
using Metric = SingleWorkUnitMeanSquares;

/// A CT averaged in whole-voxel blocks onto a working grid of about
/// `spacingMm`: the block mean of the clamped HU (the image that is matched)
/// and the block maximum of the raw HU (to find metal).
struct WorkingGrid {
  FloatImage::Pointer image;
  std::vector<std::int16_t> maximum;
  std::array<long, 3> dims{};
  Vec spacing{};
  Vec origin{};
  std::array<Vec, 3> step{}; ///< per index axis, its physical step

  [[nodiscard]] std::size_t size() const {
    return static_cast<std::size_t>(dims[0]) * dims[1] * dims[2];
  }
  [[nodiscard]] Vec point(long i, long j, long k) const {
    Vec p = origin;
    for (int a = 0; a < 3; ++a) {
      p[a] += step[0][a] * i + step[1][a] * j + step[2][a] * k;
    }
    return p;
  }
};

WorkingGrid workingGrid(const CtImage& ct, const RigidRegistrationParameters& parameters) {
  const auto region = ct.GetLargestPossibleRegion();
  const auto& direction = ct.GetDirection();
  std::array<long, 3> n{};
  std::array<long, 3> factor{};
  WorkingGrid grid;
  for (unsigned a = 0; a < 3; ++a) {
    n[a] = static_cast<long>(region.GetSize()[a]);
    const double s = ct.GetSpacing()[a];
    factor[a] = std::clamp(std::lround(parameters.workingSpacingMm / s), 1L, std::max(1L, n[a]));
    grid.dims[a] = std::max(1L, n[a] / factor[a]);
    grid.spacing[a] = s * static_cast<double>(factor[a]);
  }
  // The first block's centre, in continuous index of the CT.
  itk::ContinuousIndex<double, 3> firstCentre;
  for (unsigned a = 0; a < 3; ++a) {
    firstCentre[a] = static_cast<double>(region.GetIndex()[a]) + (factor[a] - 1) / 2.0;
  }
  CtImage::PointType originPoint;
  ct.TransformContinuousIndexToPhysicalPoint(firstCentre, originPoint);
  for (unsigned a = 0; a < 3; ++a) {
    grid.origin[a] = originPoint[a];
    for (unsigned b = 0; b < 3; ++b) {
      grid.step[b][a] = direction[a][b] * grid.spacing[b];
    }
  }

  grid.image = FloatImage::New();
  FloatImage::RegionType out;
  out.SetSize({{static_cast<itk::SizeValueType>(grid.dims[0]),
                static_cast<itk::SizeValueType>(grid.dims[1]),
                static_cast<itk::SizeValueType>(grid.dims[2])}});
  grid.image->SetRegions(out);
  const double spacing[3] = {grid.spacing[0], grid.spacing[1], grid.spacing[2]};
  grid.image->SetSpacing(spacing);
  grid.image->SetOrigin(originPoint);
  grid.image->SetDirection(direction);
  grid.image->Allocate();
  grid.maximum.assign(grid.size(), 0);

  const std::int16_t* hu = ct.GetBufferPointer();
  float* mean = grid.image->GetBufferPointer();
  const double floor = parameters.intensityFloorHu;
  const double ceiling = parameters.intensityCeilingHu;
  const double blockVoxels = static_cast<double>(factor[0] * factor[1] * factor[2]);
  // Every working voxel is computed from its own block alone: the result
  // does not depend on how the slices are split between threads.
  oneapi::tbb::parallel_for(0L, grid.dims[2], [&](long k) {
    for (long j = 0; j < grid.dims[1]; ++j) {
      for (long i = 0; i < grid.dims[0]; ++i) {
        double sum = 0;
        std::int16_t highest = std::numeric_limits<std::int16_t>::min();
        for (long z = k * factor[2]; z < (k + 1) * factor[2]; ++z) {
          for (long y = j * factor[1]; y < (j + 1) * factor[1]; ++y) {
            const std::int16_t* row = hu + (z * n[1] + y) * n[0];
            for (long x = i * factor[0]; x < (i + 1) * factor[0]; ++x) {
              sum += std::clamp(static_cast<double>(row[x]), floor, ceiling);
              highest = std::max(highest, row[x]);
            }
          }
        }
        const std::size_t idx = (static_cast<std::size_t>(k) * grid.dims[1] + j) * grid.dims[0] + i;
        mean[idx] = static_cast<float>(sum / blockVoxels);
        grid.maximum[idx] = highest;
      }
    }
  });
  return grid;
}

/// Dilates `mask` by a box of `radiusMm` (separable running maximum along
/// each axis of the grid).
void dilate(std::vector<std::uint8_t>& mask, const WorkingGrid& g, double radiusMm) {
  const std::array<std::size_t, 3> stride{1, static_cast<std::size_t>(g.dims[0]),
                                          static_cast<std::size_t>(g.dims[0] * g.dims[1])};
  for (int axis = 0; axis < 3; ++axis) {
    const long r = static_cast<long>(std::ceil(radiusMm / g.spacing[axis] - 1e-9));
    if (r <= 0) {
      continue;
    }
    const int a1 = (axis + 1) % 3;
    const int a2 = (axis + 2) % 3;
    std::vector<std::uint8_t> line(static_cast<std::size_t>(g.dims[axis]));
    for (long v = 0; v < g.dims[a2]; ++v) {
      for (long u = 0; u < g.dims[a1]; ++u) {
        const std::size_t base = u * stride[a1] + v * stride[a2];
        for (long t = 0; t < g.dims[axis]; ++t) {
          line[t] = mask[base + t * stride[axis]];
        }
        // The distance to the last and to the next set voxel decides.
        long last = -1000000;
        for (long t = 0; t < g.dims[axis]; ++t) {
          if (line[t]) {
            last = t;
          }
          if (t - last <= r) {
            mask[base + t * stride[axis]] = 1;
          }
        }
        long next = 1000000;
        for (long t = g.dims[axis] - 1; t >= 0; --t) {
          if (line[t]) {
            next = t;
          }
          if (next - t <= r) {
            mask[base + t * stride[axis]] = 1;
          }
        }
      }
    }
  }
}

/// Bone and not metal on the working grid.
std::vector<std::uint8_t> boneOf(const WorkingGrid& g, const RigidRegistrationParameters& p) {
  std::vector<std::uint8_t> bone(g.size());
  const float* mean = g.image->GetBufferPointer();
  for (std::size_t i = 0; i < bone.size(); ++i) {
    bone[i] = mean[i] >= p.boneThresholdHu && g.maximum[i] < p.metalThresholdHu ? 1 : 0;
  }
  return bone;
}

/// Calls f(point) for every set voxel of `mask`, in index order (sums over
/// the mask come out the same whoever calls).
template <typename Function>
void forEachSetPoint(const WorkingGrid& g, const std::vector<std::uint8_t>& mask, Function&& f) {
  std::size_t idx = 0;
  for (long k = 0; k < g.dims[2]; ++k) {
    for (long j = 0; j < g.dims[1]; ++j) {
      for (long i = 0; i < g.dims[0]; ++i, ++idx) {
        if (mask[idx]) {
          f(g.point(i, j, k));
        }
      }
    }
  }
}

std::optional<Vec> centroidOf(const WorkingGrid& g, const std::vector<std::uint8_t>& mask) {
  double count = 0;
  Vec sum{};
  forEachSetPoint(g, mask, [&](const Vec& p) {
    for (int a = 0; a < 3; ++a) {
      sum[a] += p[a];
    }
    count += 1;
  });
  if (count == 0) {
    return std::nullopt;
  }
  return Vec{sum[0] / count, sum[1] / count, sum[2] / count};
}

/// The metric's mask: bone (`wideBone`) not near metal and, with a fracture
/// plane, farther from it than `exclusionMm` (the callus and the gap change
/// between visits; the fragments do not).
std::vector<std::uint8_t> metricMask(const WorkingGrid& g,
                                     const std::vector<std::uint8_t>& wideBone,
                                     const std::vector<std::uint8_t>& nearMetal,
                                     const std::optional<FracturePlane>& fracture,
                                     double exclusionMm) {
  std::vector<std::uint8_t> mask(g.size(), 0);
  std::size_t idx = 0;
  for (long k = 0; k < g.dims[2]; ++k) {
    for (long j = 0; j < g.dims[1]; ++j) {
      for (long i = 0; i < g.dims[0]; ++i, ++idx) {
        bool in = wideBone[idx] != 0 && nearMetal[idx] == 0;
        if (in && fracture) {
          const Vec p = g.point(i, j, k);
          double d = 0;
          for (int a = 0; a < 3; ++a) {
            d += (p[a] - fracture->centre[a]) * fracture->normal[a];
          }
          in = std::abs(d) > exclusionMm;
        }
        mask[idx] = in ? 1 : 0;
      }
    }
  }
  return mask;
}

/// Index box [lo, hi] of the set voxels of `mask`, widened by `marginMm` and
/// clipped to the grid; nullopt when none is set.
std::optional<std::array<std::array<long, 3>, 2>>
boxOf(const WorkingGrid& g, const std::vector<std::uint8_t>& mask, double marginMm) {
  std::array<long, 3> lo{g.dims[0], g.dims[1], g.dims[2]};
  std::array<long, 3> hi{-1, -1, -1};
  std::size_t idx = 0;
  for (long k = 0; k < g.dims[2]; ++k) {
    for (long j = 0; j < g.dims[1]; ++j) {
      for (long i = 0; i < g.dims[0]; ++i, ++idx) {
        if (mask[idx]) {
          const long at[3] = {i, j, k};
          for (int a = 0; a < 3; ++a) {
            lo[a] = std::min(lo[a], at[a]);
            hi[a] = std::max(hi[a], at[a]);
          }
        }
      }
    }
  }
  if (hi[0] < 0) {
    return std::nullopt;
  }
  for (int a = 0; a < 3; ++a) {
    const long margin = static_cast<long>(std::ceil(marginMm / g.spacing[a]));
    lo[a] = std::max(0L, lo[a] - margin);
    hi[a] = std::min(g.dims[a] - 1, hi[a] + margin);
  }
  return std::array<std::array<long, 3>, 2>{lo, hi};
}

/// The voxels [lo, hi] of `image` as an image of their own (same physical
/// place): ITK's pyramid smooths and shrinks whole images, so the working
/// images hold only the bone and a margin.
template <typename TImage>
typename TImage::Pointer cropped(const TImage& image, const std::array<long, 3>& lo,
                                 const std::array<long, 3>& hi) {
  auto out = TImage::New();
  typename TImage::RegionType region;
  typename TImage::IndexType start;
  for (unsigned a = 0; a < 3; ++a) {
    region.SetSize(a, static_cast<itk::SizeValueType>(hi[a] - lo[a] + 1));
    start[a] = lo[a];
  }
  typename TImage::PointType origin;
  image.TransformIndexToPhysicalPoint(start, origin);
  out->SetRegions(region);
  out->SetSpacing(image.GetSpacing());
  out->SetDirection(image.GetDirection());
  out->SetOrigin(origin);
  out->Allocate();
  const auto size = image.GetLargestPossibleRegion().GetSize();
  const auto* in = image.GetBufferPointer();
  auto* to = out->GetBufferPointer();
  for (long k = lo[2]; k <= hi[2]; ++k) {
    for (long j = lo[1]; j <= hi[1]; ++j) {
      const auto* row = in + (static_cast<std::size_t>(k) * size[1] + j) * size[0];
      to = std::copy(row + lo[0], row + hi[0] + 1, to);
    }
  }
  return out;
}

double elapsedMs(std::chrono::steady_clock::time_point started) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
      .count();
}

} // namespace

std::array<double, 3> RigidRegistrationResult::apply(const std::array<double, 3>& point) const {
  std::array<double, 3> out{};
  for (int r = 0; r < 3; ++r) {
    out[r] = translation[r];
    for (int c = 0; c < 3; ++c) {
      out[r] += rotation[r * 3 + c] * point[c];
    }
  }
  return out;
}

RigidRegistrationResult registerFollowUpRigidly(const CtImage& reference, const CtImage& followUp,
                                                const std::optional<FracturePlane>& fracture,
                                                const RigidRegistrationParameters& parameters) {
  const auto started = std::chrono::steady_clock::now();
  RigidRegistrationResult result;
  const auto fail = [&](const std::string& reason) {
    result.ok = false;
    result.failureReason = reason;
    result.milliseconds = elapsedMs(started);
    return result;
  };
  const std::size_t levels = parameters.shrinkFactors.size();
  if (levels == 0 || parameters.smoothingSigmasMm.size() != levels) {
    return fail("the registration pyramid needs as many smoothing sigmas as shrink factors");
  }
  if (!(parameters.workingSpacingMm > 0) || parameters.maximumSamplesPerLevel <= 0) {
    return fail("the registration's working spacing and sample count must be positive");
  }

  const WorkingGrid fixed = workingGrid(reference, parameters);
  const WorkingGrid moving = workingGrid(followUp, parameters);

  // The metric's mask: reference bone widened by one working voxel, not
  // near metal, away from the fracture plane.
  std::vector<std::uint8_t> nearMetal(fixed.size());
  for (std::size_t i = 0; i < nearMetal.size(); ++i) {
    nearMetal[i] = fixed.maximum[i] >= parameters.metalThresholdHu ? 1 : 0;
  }
  dilate(nearMetal, fixed, parameters.metalMarginMm);
  const std::vector<std::uint8_t> referenceBone = boneOf(fixed, parameters);
  std::vector<std::uint8_t> wideBone = referenceBone;
  dilate(wideBone, fixed, parameters.workingSpacingMm);
  if (!fracture) {
    result.notes.emplace_back("no fracture plane for the reference visit: registered on all bone "
                              "away from metal");
  }
  const std::vector<std::uint8_t> inMask =
      metricMask(fixed, wideBone, nearMetal, fracture, parameters.fractureExclusionHalfWidthMm);
  const int maskVoxels = static_cast<int>(std::count(inMask.begin(), inMask.end(), 1));
  result.maskVoxels = maskVoxels;
  if (maskVoxels < parameters.minimumMaskVoxels) {
    return fail("too little bone away from the fracture and metal to register on (" +
                std::to_string(maskVoxels) + " working voxels, at least " +
                std::to_string(parameters.minimumMaskVoxels) + " needed)");
  }
  const Vec centre = *centroidOf(fixed, inMask);
  double extent2 = 0; // mean squared distance of the mask from its centroid
  forEachSetPoint(fixed, inMask, [&](const Vec& p) {
    for (int a = 0; a < 3; ++a) {
      extent2 += (p[a] - centre[a]) * (p[a] - centre[a]);
    }
  });
  extent2 /= maskVoxels;
  auto mask = MaskObject::ImageType::New();
  mask->CopyInformation(fixed.image);
  mask->SetRegions(fixed.image->GetLargestPossibleRegion());
  mask->Allocate();
  std::copy(inMask.begin(), inMask.end(), mask->GetBufferPointer());

  // Centred initialisation: rotation about the registered bone's centroid,
  // translation from the two visits' bone centroids (metal left out).
  const auto referenceCentroid = centroidOf(fixed, referenceBone);
  const std::vector<std::uint8_t> followUpBone = boneOf(moving, parameters);
  const auto followUpCentroid = centroidOf(moving, followUpBone);
  if (!followUpCentroid || !referenceCentroid) {
    return fail("no bone (" + std::to_string(static_cast<int>(parameters.boneThresholdHu)) +
                " HU and up) in the follow-up CT");
  }
  auto transform = Transform::New();
  Transform::CenterType itkCentre;
  Transform::OutputVectorType initialShift;
  for (int a = 0; a < 3; ++a) {
    itkCentre[a] = centre[a];
    initialShift[a] = (*followUpCentroid)[a] - (*referenceCentroid)[a];
  }
  transform->SetCenter(itkCentre);
  transform->SetTranslation(initialShift);

  // The images ITK sees: the reference's registered bone and the follow-up's
  // bone, each with a margin wider than the smoothing and the expected
  // motion.
  const double largestSigma =
      *std::max_element(parameters.smoothingSigmasMm.begin(), parameters.smoothingSigmasMm.end());
  const auto fixedBox = boxOf(fixed, inMask, 3 * largestSigma + 4 * parameters.workingSpacingMm);
  const auto movingBox =
      boxOf(moving, followUpBone, 3 * largestSigma + 4 * parameters.workingSpacingMm + 15.0);
  const FloatImage::Pointer fixedImage = cropped(*fixed.image, (*fixedBox)[0], (*fixedBox)[1]);
  const FloatImage::Pointer movingImage = cropped(*moving.image, (*movingBox)[0], (*movingBox)[1]);
  const MaskObject::ImageType::Pointer croppedMask = cropped(*mask, (*fixedBox)[0], (*fixedBox)[1]);

  try {
    auto maskObject = MaskObject::New();
    maskObject->SetImage(croppedMask);
    maskObject->Update();

    auto metric = Metric::New();
    metric->SetFixedImageMask(maskObject);
    metric->SetUseFixedImageGradientFilter(false);
    metric->SetUseMovingImageGradientFilter(false);

    auto optimizer = Optimizer::New();
    optimizer->SetNumberOfWorkUnits(1);
    optimizer->SetLearningRate(parameters.initialStepMm);
    optimizer->SetMinimumStepLength(parameters.minimumStepMm);
    optimizer->SetRelaxationFactor(0.5);
    optimizer->SetGradientMagnitudeTolerance(1e-12);
    optimizer->SetNumberOfIterations(static_cast<itk::SizeValueType>(parameters.maximumIterations));
    optimizer->SetDoEstimateLearningRateAtEachIteration(false);
    optimizer->SetDoEstimateLearningRateOnce(false);
    // Scales as a physical shift: a rotation of one radian moves the bone by
    // its extent, a translation of one mm by one mm; the step is then about
    // mm of motion at the bone for either.
    Optimizer::ScalesType scales(6);
    scales[0] = scales[1] = scales[2] = extent2;
    scales[3] = scales[4] = scales[5] = 1.0;
    optimizer->SetScales(scales);
    int iterations = 0;
    optimizer->AddObserver(itk::IterationEvent(),
                           [&iterations](const itk::EventObject&) { ++iterations; });

    auto method = Method::New();
    method->SetFixedImage(fixedImage);
    method->SetMovingImage(movingImage);
    method->SetMetric(metric);
    method->SetOptimizer(optimizer);
    method->SetInitialTransform(transform);
    method->InPlaceOn();
    method->SetNumberOfWorkUnits(1);
    method->SetNumberOfLevels(static_cast<itk::SizeValueType>(levels));
    Method::ShrinkFactorsArrayType shrink(levels);
    Method::SmoothingSigmasArrayType sigmas(levels);
    Method::MetricSamplingPercentageArrayType share(levels);
    for (std::size_t l = 0; l < levels; ++l) {
      shrink[l] = std::max(1U, parameters.shrinkFactors[l]);
      sigmas[l] = parameters.smoothingSigmasMm[l];
      // The masked voxels expected on this level's grid at full sampling.
      const double onLevel = maskVoxels / std::pow(static_cast<double>(shrink[l]), 3.0);
      share[l] = std::min(1.0, parameters.maximumSamplesPerLevel / std::max(1.0, onLevel));
    }
    method->SetShrinkFactorsPerLevel(shrink);
    method->SetSmoothingSigmasPerLevel(sigmas);
    method->SetSmoothingSigmasAreSpecifiedInPhysicalUnits(true);
    method->SetMetricSamplingStrategy(Method::MetricSamplingStrategyEnum::REGULAR);
    method->SetMetricSamplingPercentagePerLevel(share);
    method->MetricSamplingReinitializeSeed(parameters.randomSeed);
    method->Update();

    result.iterations = iterations;
    result.metric = optimizer->GetValue();
    result.stopCondition = optimizer->GetStopConditionDescription();
    result.converged = optimizer->GetCurrentIteration() <
                       static_cast<itk::SizeValueType>(parameters.maximumIterations);
  } catch (const itk::ExceptionObject& error) {
    return fail(std::string("registration failed: ") + error.GetDescription());
  }

  const Transform::MatrixType& matrix = transform->GetMatrix();
  const Transform::OutputVectorType offset = transform->GetOffset();
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      result.rotation[r * 3 + c] = matrix[r][c];
    }
    result.translation[r] = offset[r];
  }
  const Transform::ParametersType& itkParameters = transform->GetParameters();
  for (unsigned i = 0; i < 6; ++i) {
    result.eulerParameters[i] = itkParameters[i];
  }
  result.centre = centre;
  const Vec moved = result.apply(centre);
  for (int a = 0; a < 3; ++a) {
    result.centreDisplacementMm[a] = moved[a] - centre[a];
  }
  const double trace = result.rotation[0] + result.rotation[4] + result.rotation[8];
  result.rotationDeg = std::acos(std::clamp((trace - 1.0) / 2.0, -1.0, 1.0)) * 180.0 / M_PI;
  if (!std::isfinite(result.metric)) {
    return fail("registration did not converge (metric not finite)");
  }
  const double motion = std::hypot(result.centreDisplacementMm[0], result.centreDisplacementMm[1],
                                   result.centreDisplacementMm[2]) +
                        result.rotationDeg * M_PI / 180.0 * std::sqrt(extent2);
  if (motion > parameters.maximumMotionMm) {
    std::ostringstream reason;
    reason << "registration moved the bone implausibly far (about " << std::lround(motion)
           << " mm, at most " << parameters.maximumMotionMm << " mm expected)";
    return fail(reason.str());
  }
  result.ok = true;
  result.milliseconds = elapsedMs(started);
  return result;
}

void registerTransformFileSupport() {
  // Without ITK's CMake use-file the transform IO factories are not
  // registered automatically.
  static std::once_flag registered;
  std::call_once(registered, [] {
    itk::TxtTransformIOFactory::RegisterOneFactory();
    itk::TransformFactoryBase::RegisterDefaultTransforms();
  });
}

void writeItkTransformFile(const RigidRegistrationResult& result,
                           const std::filesystem::path& path) {
  // Two patients of a batch writing their first transforms at once once
  // corrupted ITK's factory (see registerTransformFileSupport). Writers are
  // also made and run one at a time: a transform file is a few hundred bytes.
  registerTransformFileSupport();
  static std::mutex writing;
  const std::lock_guard<std::mutex> oneWriterAtATime(writing);
  auto transform = Transform::New();
  Transform::CenterType centre;
  for (int a = 0; a < 3; ++a) {
    centre[a] = result.centre[a];
  }
  transform->SetCenter(centre);
  Transform::ParametersType parameters(6);
  for (unsigned i = 0; i < 6; ++i) {
    parameters[i] = result.eulerParameters[i];
  }
  transform->SetParameters(parameters);
  try {
    auto writer = itk::TransformFileWriterTemplate<double>::New();
    writer->SetInput(transform);
    writer->SetFileName(path.string());
    writer->Update();
  } catch (const itk::ExceptionObject& error) {
    throw std::runtime_error("cannot write the transform file " + path.filename().string() + ": " +
                             error.GetDescription());
  }
}

} // namespace unionscope
