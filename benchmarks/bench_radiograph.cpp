// Radiograph union analysis on a phantom DX image (0.2 mm pixels, as the
// detector gives them) at the working resolution it uses (longer side 640),
// beside the same analysis on every detector pixel: the baseline that the
// working resolution exists to beat.

#include "unionscope/filters/RadiographUnionAnalysis.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"
#include "unionscope/sample_data/Phantom.h"

#include <benchmark/benchmark.h>

#include <filesystem>

using namespace unionscope;

namespace {

struct LoadedRadiograph {
  RadiographImage::Pointer image;
  dicom::RadiographPlan plan;
};

/// The AP radiograph of a default-size phantom with a nail, read back
/// through the ingest as analyze reads it.
const LoadedRadiograph& radiograph() {
  static const LoadedRadiograph loaded = [] {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / "unionscope_bench_radiograph";
    std::filesystem::remove_all(dir);
    const phantom::PatientSpec spec =
        phantom::makePatientSpec(5, phantom::Scenario::NormalHealing, phantom::Implant::Nail,
                                 phantom::SizePreset::Default, {12});
    phantom::writePatient(spec, dir);
    const dicom::ScanResult scan = dicom::scanDicom({dir / "dicom" / "W12" / "DX_AP.dcm"});
    LoadedRadiograph result;
    result.plan =
        dicom::planRadiograph(scan.patients.at(0).studies.at(0).series.at(0).instances.at(0));
    result.image = dicom::loadRadiograph(result.plan);
    std::filesystem::remove_all(dir);
    return result;
  }();
  return loaded;
}

void analyse(benchmark::State& state, int workingLongSide) {
  const LoadedRadiograph& r = radiograph();
  RadiographAnalysisParameters parameters;
  parameters.workingLongSide = workingLongSide;
  for (auto _ : state) {
    const RadiographAnalysisResult result = analyzeRadiographUnion(
        *r.image, r.plan.pixelSpacingMm, RadiographView::AP,
        RadiographOrientation{r.plan.columnsToward}, Laterality::Right, parameters);
    benchmark::DoNotOptimize(result.fractureLine);
  }
  const auto size = r.image->GetLargestPossibleRegion().GetSize();
  state.SetLabel(std::to_string(size[0]) + "x" + std::to_string(size[1]) + " DX");
}

void BM_AnalyzeRadiographUnion(benchmark::State& state) {
  analyse(state, RadiographAnalysisParameters{}.workingLongSide);
}

/// Baseline: no reduction to the working resolution.
void BM_AnalyzeRadiographUnionFullResolution(benchmark::State& state) {
  analyse(state, 1 << 20);
}

} // namespace

BENCHMARK(BM_AnalyzeRadiographUnion)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_AnalyzeRadiographUnionFullResolution)->Unit(benchmark::kMillisecond)->UseRealTime();
