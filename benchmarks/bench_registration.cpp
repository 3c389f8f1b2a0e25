// Rigid registration of a follow-up CT to the first visit, at 1 and 2
// threads, beside the same ITK v4 registration run on the full-resolution
// images (no working grid: ITK's pyramid smooths the whole volumes at every
// level).

#include "unionscope/filters/RigidRegistration.h"
#include "unionscope/sample_data/Phantom.h"

#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <utility>

using namespace unionscope;

namespace {

/// Two visits (6 and 12 weeks) of one phantom with a nail. 0: default
/// 256x256x112, 1: large 512x512x200, 2: 512x512x400.
const std::pair<phantom::VisitVolume, phantom::VisitVolume>& visits(long variant) {
  static std::map<long, std::pair<phantom::VisitVolume, phantom::VisitVolume>> cache;
  auto it = cache.find(variant);
  if (it == cache.end()) {
    phantom::PatientSpec spec = phantom::makePatientSpec(
        5, phantom::Scenario::NormalHealing, phantom::Implant::Nail,
        variant == 0 ? phantom::SizePreset::Default : phantom::SizePreset::Large, {6, 12});
    if (variant == 2) {
      spec.voxels[2] = 400;
      spec.spacingMm[2] = 0.625;
    }
    it = cache
             .emplace(variant, std::make_pair(phantom::renderVisitCt(spec, 0),
                                              phantom::renderVisitCt(spec, 1)))
             .first;
  }
  return it->second;
}

/// The recovered transform against the phantom's poses (as in
/// tests/test_registration.cpp): rotation error (deg) and the largest error
/// at the bone's centre line +-40 mm from the fracture, across and along the
/// shaft (mm).
std::array<double, 3> errorsAgainstTruth(const RigidRegistrationResult& result,
                                         const phantom::VisitVolume& reference,
                                         const phantom::VisitVolume& followUp) {
  const phantom::VisitMotion motion = phantom::visitMotion(reference, followUp);
  const std::array<double, 9>& truth = motion.rotation;
  double trace = 0; // of result.rotation * truth^T
  for (int r = 0; r < 3; ++r) {
    for (int k = 0; k < 3; ++k) {
      trace += result.rotation[r * 3 + k] * truth[r * 3 + k];
    }
  }
  const double rotationError = std::acos(std::clamp((trace - 1.0) / 2.0, -1.0, 1.0)) * 180.0 / M_PI;
  double across = 0;
  double along = 0;
  for (double s : {-40.0, 0.0, 40.0}) {
    std::array<double, 3> p{};
    for (int i = 0; i < 3; ++i) {
      p[i] = reference.fractureCenter[i] + s * reference.shaftAxis[i];
    }
    const std::array<double, 3> got = result.apply(p);
    const std::array<double, 3> want = motion.apply(p);
    const std::array<double, 3> e{got[0] - want[0], got[1] - want[1], got[2] - want[2]};
    const double ax =
        e[0] * followUp.shaftAxis[0] + e[1] * followUp.shaftAxis[1] + e[2] * followUp.shaftAxis[2];
    const double total = std::hypot(e[0], e[1], e[2]);
    along = std::max(along, std::abs(ax));
    across = std::max(across, std::sqrt(std::max(0.0, total * total - ax * ax)));
  }
  return {rotationError, across, along};
}

const char* sizeName(long variant) {
  return variant == 0 ? "256x256x112" : variant == 1 ? "512x512x200" : "512x512x400";
}

void run(benchmark::State& state, const RigidRegistrationParameters& parameters) {
  const auto& [reference, followUp] = visits(state.range(0));
  oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(state.range(1)));
  const FracturePlane plane{reference.fractureCenter, reference.fractureNormal};
  int iterations = 0;
  std::array<double, 3> errors{};
  for (auto _ : state) {
    const RigidRegistrationResult result =
        registerFollowUpRigidly(*reference.hu, *followUp.hu, plane, parameters);
    if (!result.ok) {
      state.SkipWithError(result.failureReason.c_str());
      break;
    }
    iterations = result.iterations;
    errors = errorsAgainstTruth(result, reference, followUp);
  }
  state.counters["optimizer_iterations"] = iterations;
  state.counters["rotation_error_deg"] = errors[0];
  state.counters["error_across_mm"] = errors[1];
  state.counters["error_along_mm"] = errors[2];
  state.SetLabel(sizeName(state.range(0)));
}

void BM_RigidRegistration(benchmark::State& state) {
  run(state, {});
}

void BM_RigidRegistration_BaselineFullResolution(benchmark::State& state) {
  RigidRegistrationParameters parameters;
  parameters.workingSpacingMm = 1e-3; // every CT voxel its own working voxel
  run(state, parameters);
}

} // namespace

BENCHMARK(BM_RigidRegistration)
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2);
BENCHMARK(BM_RigidRegistration_BaselineFullResolution)
    ->Args({0, 2})
    ->Args({2, 2})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(1);
