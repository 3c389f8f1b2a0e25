// Ingest speed, each beside its baseline in the same run:
// - header scan: ours (bounded header parse, TBB) at 1 and 2 threads against
//   a plain single-threaded DCMTK full parse of every file;
// - CT volume load: ours at 1 and 2 threads against ITK's GDCM series reader.

#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"
#include "unionscope/sample_data/Phantom.h"

#include <benchmark/benchmark.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <itkGDCMImageIO.h>
#include <itkGDCMSeriesFileNames.h>
#include <itkImageSeriesReader.h>
#include <oneapi/tbb/global_control.h>

#include <filesystem>

namespace fs = std::filesystem;
using namespace unionscope;

namespace {

/// A default-size phantom patient written once per process: 3 CT series of
/// 112 slices (256x256) and 6 radiographs.
const fs::path& corpus() {
  static const fs::path path = [] {
    const fs::path dir = fs::temp_directory_path() / "unionscope_bench_ingest";
    if (!fs::exists(dir / "truth.json")) {
      fs::remove_all(dir);
      phantom::writePatient(phantom::makePatientSpec(3, phantom::Scenario::NormalHealing,
                                                     phantom::Implant::Nail,
                                                     phantom::SizePreset::Default),
                            dir);
    }
    return dir;
  }();
  return path;
}

std::vector<fs::path> allFiles() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(corpus() / "dicom")) {
    if (entry.is_regular_file()) {
      files.push_back(entry.path());
    }
  }
  return files;
}

void BM_ScanHeaders(benchmark::State& state) {
  corpus(); // written once, outside the timing
  oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(state.range(0)));
  std::size_t files = 0;
  for (auto _ : state) {
    const dicom::ScanResult scan = dicom::scanDicom({corpus() / "dicom"});
    files = scan.filesExamined;
    benchmark::DoNotOptimize(scan.patients.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * files));
}
BENCHMARK(BM_ScanHeaders)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ScanHeaders_BaselineDcmtkFullParse(benchmark::State& state) {
  const std::vector<fs::path> files = allFiles();
  for (auto _ : state) {
    for (const fs::path& file : files) {
      DcmFileFormat dcm;
      benchmark::DoNotOptimize(dcm.loadFile(file.c_str()).good());
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * files.size()));
}
BENCHMARK(BM_ScanHeaders_BaselineDcmtkFullParse)->Unit(benchmark::kMillisecond)->UseRealTime();

dicom::SeriesGroup firstCtSeries() {
  const dicom::ScanResult scan = dicom::scanDicom({corpus() / "dicom" / "W06"});
  for (const dicom::SeriesGroup& series : scan.patients.at(0).studies.at(0).series) {
    if (series.modality == "CT") {
      return series;
    }
  }
  throw std::runtime_error("no CT series in the benchmark corpus");
}

void BM_LoadCtVolume(benchmark::State& state) {
  oneapi::tbb::global_control threads(oneapi::tbb::global_control::max_allowed_parallelism,
                                      static_cast<std::size_t>(state.range(0)));
  const dicom::SeriesGroup series = firstCtSeries();
  for (auto _ : state) {
    const dicom::CtVolumePlan plan = dicom::planCtVolume(series);
    CtImage::Pointer volume = dicom::loadCtVolume(plan);
    benchmark::DoNotOptimize(volume->GetBufferPointer());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * series.instances.size()));
}
BENCHMARK(BM_LoadCtVolume)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_LoadCtVolume_BaselineItkGdcm(benchmark::State& state) {
  const fs::path folder = corpus() / "dicom" / "W06" / "CT";
  for (auto _ : state) {
    auto names = itk::GDCMSeriesFileNames::New();
    names->SetDirectory(folder.string());
    const auto series = names->GetSeriesUIDs();
    auto reader = itk::ImageSeriesReader<CtImage>::New();
    reader->SetImageIO(itk::GDCMImageIO::New());
    reader->SetFileNames(names->GetFileNames(series.front()));
    reader->Update();
    benchmark::DoNotOptimize(reader->GetOutput()->GetBufferPointer());
  }
}
BENCHMARK(BM_LoadCtVolume_BaselineItkGdcm)->Unit(benchmark::kMillisecond)->UseRealTime();

} // namespace
