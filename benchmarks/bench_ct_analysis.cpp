// CT union analysis at 1 and 2 threads, beside a plain single-threaded ITK
// pipeline of the classic steps (threshold, connected components, binary
// dilation, distance map) over the same volume.

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/sample_data/Phantom.h"

#include <benchmark/benchmark.h>
#include <itkBinaryBallStructuringElement.h>
#include <itkBinaryDilateImageFilter.h>
#include <itkBinaryThresholdImageFilter.h>
#include <itkConnectedComponentImageFilter.h>
#include <itkSignedMaurerDistanceMapImageFilter.h>
#include <oneapi/tbb/global_control.h>

#include <map>

using namespace unionscope;

namespace {

/// 0: default 256x256x112, 1: large 512x512x200, 2: 512x512x400 (issue 5's
/// speed case: a 25 cm shaft at 0.625 mm).
const phantom::VisitVolume& volume(long variant) {
  static std::map<long, phantom::VisitVolume> cache;
  auto it = cache.find(variant);
  if (it == cache.end()) {
    phantom::PatientSpec spec = phantom::makePatientSpec(
        5, phantom::Scenario::NormalHealing, phantom::Implant::Nail,
        variant == 0 ? phantom::SizePreset::Default : phantom::SizePreset::Large, {12});
    if (variant == 2) {
      spec.voxels[2] = 400;
      spec.spacingMm[2] = 0.625;
    }
    it = cache.emplace(variant, phantom::renderVisitCt(spec, 0)).first;
  }
  return it->second;
}

const char* sizeName(long variant) {
  return variant == 0 ? "256x256x112" : variant == 1 ? "512x512x200" : "512x512x400";
}

void BM_AnalyzeCtUnion(benchmark::State& state) {
  const long size = state.range(0);
  const phantom::VisitVolume& visit = volume(size);
  oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(state.range(1)));
  std::map<std::string, double> stages;
  for (auto _ : state) {
    const CtAnalysisResult result = analyzeCtUnion(*visit.hu, Laterality::Right);
    benchmark::DoNotOptimize(result.callusVolumeMm3);
    for (const auto& [name, ms] : result.stageMilliseconds) {
      stages[name] += ms;
    }
  }
  for (const auto& [name, ms] : stages) {
    state.counters[name + "_ms"] = ms / static_cast<double>(state.iterations());
  }
  state.SetLabel(sizeName(size));
}
BENCHMARK(BM_AnalyzeCtUnion)
    ->ArgsProduct({{0, 1, 2}, {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_AnalyzeCtUnion_BaselinePlainItkSteps(benchmark::State& state) {
  const long size = state.range(0);
  const phantom::VisitVolume& visit = volume(size);
  using Threshold = itk::BinaryThresholdImageFilter<CtImage, MaskImage>;
  using Components = itk::ConnectedComponentImageFilter<MaskImage, itk::Image<std::uint32_t, 3>>;
  using Ball = itk::BinaryBallStructuringElement<std::uint8_t, 3>;
  using Dilate = itk::BinaryDilateImageFilter<MaskImage, MaskImage, Ball>;
  using Distance = itk::SignedMaurerDistanceMapImageFilter<MaskImage, itk::Image<float, 3>>;
  for (auto _ : state) {
    auto bone = Threshold::New();
    bone->SetInput(visit.hu);
    bone->SetLowerThreshold(250);
    bone->SetUpperThreshold(2499);
    bone->SetNumberOfWorkUnits(1);
    auto components = Components::New();
    components->SetInput(bone->GetOutput());
    components->SetNumberOfWorkUnits(1);
    components->Update();
    auto metal = Threshold::New();
    metal->SetInput(visit.hu);
    metal->SetLowerThreshold(2500);
    metal->SetNumberOfWorkUnits(1);
    Ball ball;
    ball.SetRadius(3);
    ball.CreateStructuringElement();
    auto dilate = Dilate::New();
    dilate->SetInput(metal->GetOutput());
    dilate->SetKernel(ball);
    dilate->SetDilateValue(1);
    dilate->SetNumberOfWorkUnits(1);
    auto distance = Distance::New();
    distance->SetInput(bone->GetOutput());
    distance->SetUseImageSpacing(true);
    distance->SetNumberOfWorkUnits(1);
    distance->Update();
    dilate->Update();
    benchmark::DoNotOptimize(distance->GetOutput()->GetBufferPointer());
  }
  state.SetLabel(sizeName(size));
}
BENCHMARK(BM_AnalyzeCtUnion_BaselinePlainItkSteps)
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
