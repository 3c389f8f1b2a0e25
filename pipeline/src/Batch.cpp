#include "unionscope/pipeline/Batch.h"

#include "unionscope/filters/Parallelism.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Cohort.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/dicom/DicomLibrary.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>
#include <spdlog/spdlog.h>

#include <fstream>

namespace unionscope {
namespace {

namespace fs = std::filesystem;

/// Folder key of a patient: FNV-1a of the Patient ID, so that folder names
/// are stable across runs (for --resume) and carry no identifier.
std::string patientKey(const std::string& patientId) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (unsigned char c : patientId) {
    hash = (hash ^ c) * 0x100000001b3ULL;
  }
  return fmt::format("patient_{:016x}", hash);
}

} // namespace

BatchOutcome runBatch(const BatchOptions& options) {
  const dicom::ScanResult scan = dicom::scanDicom({options.archive});
  BatchOutcome outcome;
  outcome.patients = static_cast<int>(scan.patients.size());
  outcome.filesRejected = static_cast<int>(scan.rejected.size());
  if (scan.patients.empty()) {
    throw UsageError("no usable DICOM image in " + options.archive.string());
  }
  const fs::path patientsDir = options.outputDirectory / "patients";
  std::vector<std::string> status(scan.patients.size());
  std::vector<std::string> failure(scan.patients.size());
  const int jobs =
      options.jobs > 0 ? options.jobs : oneapi::tbb::this_task_arena::max_concurrency();
  // ITK and DCMTK fill some globals lazily, without locks: filled here,
  // before patients run side by side.
  prepareToolkitsForConcurrentAnalyses();
  dicom::prepareDicomToolkitForConcurrentUse();
  oneapi::tbb::task_arena arena(jobs);
  arena.execute([&] {
    oneapi::tbb::parallel_for(std::size_t{0}, scan.patients.size(), [&](std::size_t i) {
      const dicom::PatientGroup& patient = scan.patients[i];
      const fs::path out = patientsDir / patientKey(patient.patientId);
      // audit.json is written last: its presence means the patient finished.
      if (options.resume && fs::exists(out / "audit.json")) {
        status[i] = "resumed";
        return;
      }
      AnalyzeOptions analyze = options.analyze;
      analyze.outputDirectory = out;
      try {
        analyzeScannedPatient(patient, {}, analyze, utcTimestampNow());
        status[i] = "analysed";
      } catch (const std::exception& error) {
        status[i] = "failed";
        failure[i] = error.what();
      }
    });
  });

  std::string failures = "kind,path_or_patient,reason\n";
  for (const dicom::RejectedFile& file : scan.rejected) {
    failures += fmt::format("file,{},{}\n", csvQuote(file.path.string()), csvQuote(file.reason));
  }
  for (std::size_t i = 0; i < scan.patients.size(); ++i) {
    outcome.analysed += status[i] == "analysed" ? 1 : 0;
    outcome.resumed += status[i] == "resumed" ? 1 : 0;
    if (status[i] == "failed") {
      ++outcome.failed;
      failures += fmt::format("patient,{},{}\n", patientKey(scan.patients[i].patientId),
                              csvQuote(failure[i]));
      spdlog::warn("{}: {}", patientKey(scan.patients[i].patientId), failure[i]);
    }
  }
  writeFileAtomically(options.outputDirectory / "failures.csv", failures);

  // Cohort endpoints over every finished patient, and the patient x visit table.
  CohortOptions cohort;
  cohort.inputs = {patientsDir};
  cohort.outputDirectory = options.outputDirectory;
  if (outcome.analysed + outcome.resumed > 0) {
    computeCohort(cohort);
  }
  std::string table =
      "patient_folder,patient_id,timepoint,weeks,union,rust,mrust,union_timepoint\n";
  for (const dicom::PatientGroup& patient : scan.patients) {
    const fs::path report = patientsDir / patientKey(patient.patientId) / "report.json";
    if (!fs::exists(report)) {
      continue;
    }
    std::ifstream in(report);
    const nlohmann::json json = nlohmann::json::parse(in);
    const auto text = [](const nlohmann::json& v) {
      return v.is_null() ? std::string() : v.is_string() ? v.get<std::string>() : v.dump();
    };
    for (const auto& tp : json["timepoints"]) {
      table += fmt::format(
          "{},{},{},{},{},{},{},{}\n", patientKey(patient.patientId),
          csvQuote(text(json["patient_id"])), csvQuote(text(tp["label"])), text(tp["weeks"]),
          text(tp.value("union", nlohmann::json())), text(tp.value("rust", nlohmann::json())),
          text(tp.value("mrust", nlohmann::json())), csvQuote(text(json["union_timepoint"])));
    }
  }
  writeFileAtomically(options.outputDirectory / "cohort.csv", table);
  return outcome;
}

} // namespace unionscope
