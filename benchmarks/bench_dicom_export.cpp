// DICOM export of analyze: the CT label map (the analysis with and without
// it) and the SEG write, beside writing the same grid as a CT series with
// the project's own DCMTK writer.

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/DicomWriter.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"
#include "unionscope/pipeline/dicom/UidFactory.h"
#include "unionscope/sample_data/Phantom.h"

#include <benchmark/benchmark.h>
#include <oneapi/tbb/global_control.h>

#include <filesystem>
#include <map>
#include <stdexcept>

using namespace unionscope;
namespace fs = std::filesystem;

namespace {

/// One large visit (512x512x200, nail) written once per process, loaded and
/// analysed with its label map.
struct ExportCase {
  dicom::SeriesGroup series;
  CtImage::Pointer volume;
  CtAnalysisResult result;
  dicom::SegmentationRequest request;
  fs::path scratch;
};

const ExportCase& exportCase() {
  static const ExportCase instance = [] {
    ExportCase c;
    const fs::path dir = fs::temp_directory_path() / "unionscope_bench_export";
    if (!fs::exists(dir / "truth.json")) {
      fs::remove_all(dir);
      phantom::writePatient(phantom::makePatientSpec(5, phantom::Scenario::NormalHealing,
                                                     phantom::Implant::Nail,
                                                     phantom::SizePreset::Large, {12}),
                            dir);
    }
    const dicom::ScanResult scan = dicom::scanDicom({dir / "dicom"});
    for (const dicom::SeriesGroup& series : scan.patients.at(0).studies.at(0).series) {
      c.series = series.modality == "CT" ? series : c.series;
    }
    const dicom::CtVolumePlan plan = dicom::planCtVolume(c.series);
    if (!plan.ok() || plan.resampled) {
      throw std::runtime_error("benchmark phantom: unexpected CT plan");
    }
    c.volume = dicom::loadCtVolume(plan);
    CtAnalysisParameters parameters;
    parameters.produceLabelMap = true;
    c.result = analyzeCtUnion(*c.volume, Laterality::Right, parameters);
    std::map<fs::path, dicom::DicomFileHeader> byPath;
    for (const dicom::DicomFileHeader& h : c.series.instances) {
      byPath[h.path] = h;
    }
    const dicom::UidFactory uids(7);
    c.request.labels = c.result.labels.GetPointer();
    for (const dicom::SliceSource& slice : plan.slices) {
      c.request.sliceSources.push_back(byPath.at(slice.file));
    }
    c.request.seriesInstanceUid = uids.uid("series");
    c.request.sopInstanceUid = uids.uid("instance");
    c.request.dimensionOrganizationUid = uids.uid("dimensions");
    c.request.seriesDescription = "benchmark";
    c.scratch = fs::temp_directory_path() / "unionscope_bench_export_out";
    fs::create_directories(c.scratch);
    return c;
  }();
  return instance;
}

void BM_AnalyzeCtUnionWithLabelMap(benchmark::State& state) {
  const ExportCase& c = exportCase();
  oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism, 2);
  CtAnalysisParameters parameters;
  parameters.produceLabelMap = state.range(0) != 0;
  std::map<std::string, double> stages;
  for (auto _ : state) {
    const CtAnalysisResult result = analyzeCtUnion(*c.volume, Laterality::Right, parameters);
    benchmark::DoNotOptimize(result.labels.GetPointer());
    for (const auto& [name, ms] : result.stageMilliseconds) {
      stages[name] += ms;
    }
  }
  for (const char* name : {"callus", "label_map"}) {
    state.counters[std::string(name) + "_ms"] =
        stages[name] / static_cast<double>(state.iterations());
  }
  state.SetLabel(parameters.produceLabelMap ? "512x512x200, label map"
                                            : "512x512x200, baseline: no label map");
}
BENCHMARK(BM_AnalyzeCtUnionWithLabelMap)
    ->Arg(1)
    ->Arg(0)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_WriteSegmentation(benchmark::State& state) {
  const ExportCase& c = exportCase();
  const fs::path file = c.scratch / "seg.dcm";
  dicom::SegmentationSummary summary;
  for (auto _ : state) {
    summary = dicom::writeSegmentation(c.request, file);
  }
  state.counters["frames"] =
      static_cast<double>(summary.frames[0] + summary.frames[1] + summary.frames[2]);
  state.counters["file_MB"] = static_cast<double>(fs::file_size(file)) / 1e6;
  state.SetLabel("512x512x200 bone, callus, metal");
}
BENCHMARK(BM_WriteSegmentation)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_WriteSegmentation_BaselineCtSeries(benchmark::State& state) {
  const ExportCase& c = exportCase();
  const dicom::UidFactory uids(8);
  std::vector<std::string> sopUids;
  for (std::size_t k = 0; k < c.volume->GetLargestPossibleRegion().GetSize()[2]; ++k) {
    sopUids.push_back(uids.uid("slice/" + std::to_string(k)));
  }
  const dicom::PatientModule patient{"BENCH", "Bench^Mark", "", ""};
  const dicom::StudyModule study{
      uids.uid("study"), "20250101", "120000", "1", "", "", "", "", "", "", ""};
  dicom::SeriesModule series;
  series.instanceUid = uids.uid("series");
  series.frameOfReferenceUid = uids.uid("for");
  for (auto _ : state) {
    const auto files =
        dicom::writeCtSeries(*c.volume, c.scratch / "ct", patient, study, series, sopUids);
    benchmark::DoNotOptimize(files.data());
  }
  state.SetLabel("the same grid as a CT series (int16, one file per slice)");
}
BENCHMARK(BM_WriteSegmentation_BaselineCtSeries)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
