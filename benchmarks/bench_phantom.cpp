// Phantom rendering at one and at all threads, side by side in one run.

#include "unionscope/sample_data/Phantom.h"

#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>

using namespace unionscope::phantom;

static void BM_RenderVisitCt(benchmark::State& state) {
  const auto size = static_cast<SizePreset>(state.range(0));
  const auto threads = static_cast<std::size_t>(state.range(1));
  oneapi::tbb::global_control control(oneapi::tbb::global_control::max_allowed_parallelism,
                                      threads);
  const PatientSpec spec = makePatientSpec(1, Scenario::NormalHealing, Implant::Nail, size);
  for (auto _ : state) {
    VisitVolume visit = renderVisitCt(spec, 1);
    benchmark::DoNotOptimize(visit.hu->GetBufferPointer());
  }
  state.SetLabel(size == SizePreset::Small ? "small" : "default");
}
BENCHMARK(BM_RenderVisitCt)
    ->ArgsProduct({{static_cast<long>(SizePreset::Small), static_cast<long>(SizePreset::Default)},
                   {1, 2}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
