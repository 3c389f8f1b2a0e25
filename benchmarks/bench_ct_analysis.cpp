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

const phantom::VisitVolume& volume(phantom::SizePreset size) {
  static std::map<phantom::SizePreset, phantom::VisitVolume> cache;
  auto it = cache.find(size);
  if (it == cache.end()) {
    const phantom::PatientSpec spec =
        phantom::makePatientSpec(5, phantom::Scenario::NormalHealing, phantom::Implant::Nail, size, {12});
    it = cache.emplace(size, phantom::renderVisitCt(spec, 0)).first;
  }
  return it->second;
}

const char* sizeName(phantom::SizePreset size) {
  return size == phantom::SizePreset::Large ? "large 512x512x200" : "default 256x256x112";
}

void BM_AnalyzeCtUnion(benchmark::State& state) {
  const auto size = static_cast<phantom::SizePreset>(state.range(0));
  const phantom::VisitVolume& visit = volume(size);
  oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(state.range(1)));
  for (auto _ : state) {
    const CtAnalysisResult result = analyzeCtUnion(*visit.hu, Laterality::Right);
    benchmark::DoNotOptimize(result.callusVolumeMm3);
  }
  state.SetLabel(sizeName(size));
}
BENCHMARK(BM_AnalyzeCtUnion)
    ->ArgsProduct({{static_cast<long>(phantom::SizePreset::Default), static_cast<long>(phantom::SizePreset::Large)},
                   {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_AnalyzeCtUnion_BaselinePlainItkSteps(benchmark::State& state) {
  const auto size = static_cast<phantom::SizePreset>(state.range(0));
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
    ->Arg(static_cast<long>(phantom::SizePreset::Default))
    ->Arg(static_cast<long>(phantom::SizePreset::Large))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

} // namespace
