#include "Commands.h"
#include "unionscope/pipeline/Batch.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>

namespace unionscope::cli {

CommandRunner addBatchCommand(CLI::App& app) {
  struct Options {
    std::string archive;
    std::string out;
    int jobs = 0;
    bool resume = false;
    std::string referenceDate;
    bool noDicom = false;
    double patientTimeoutMinutes = 120;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "batch",
      "Analyse every patient in an archive: per-patient reports, cohort endpoints, failures.csv");
  command->add_option("archive", options->archive, "Folder tree of DICOM files (or a DICOMDIR)")
      ->required();
  command->add_option("--out", options->out, "Output folder")->required();
  command->add_option("--jobs", options->jobs, "Patients analysed at once (default: all threads)")
      ->check(CLI::NonNegativeNumber);
  command->add_flag("--resume", options->resume, "Keep patients finished by an earlier run");
  command->add_option(
      "--reference-date", options->referenceDate,
      "One reference date for everyone (YYYY-MM-DD); default: each patient's first study");
  command->add_flag("--no-dicom", options->noDicom,
                    "Do not write each patient's dicom/ and volumes/ folders (SEG, SR, and the "
                    "viewer's label maps, as analyze writes)");
  command
      ->add_option("--patient-timeout", options->patientTimeoutMinutes,
                   "Minutes after which a patient's analysis is stopped and reported failed (0: "
                   "no limit). Each patient runs in its own process: a crash or a hang fails that "
                   "patient alone")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  return [options]() {
    BatchOptions batch;
    batch.archive = options->archive;
    batch.outputDirectory = options->out;
    batch.jobs = options->jobs;
    batch.resume = options->resume;
    batch.analyze.writeDicom = !options->noDicom;
    batch.analyze.writeVolumes = !options->noDicom;
    if (!options->referenceDate.empty()) {
      batch.analyze.referenceDate = options->referenceDate;
    }
    // Each patient in a child process of this program: /proc/self/exe runs
    // this very program even if its file is replaced during a long batch.
    if (std::filesystem::exists("/proc/self/exe")) {
      batch.workerExecutable = "/proc/self/exe";
    } else {
      spdlog::warn("cannot find this program (no /proc/self/exe): patients are analysed in this "
                   "process, where a crash stops the batch");
    }
    batch.patientTimeoutMinutes = options->patientTimeoutMinutes;
    const BatchOutcome outcome = runBatch(batch);
    spdlog::info(
        "{} patients: {} analysed, {} kept from an earlier run, {} failed; {} files rejected",
        outcome.patients, outcome.analysed, outcome.resumed, outcome.failed, outcome.filesRejected);
    return outcome.failed > 0 || outcome.filesRejected > 0 ? kExitPartial : kExitOk;
  };
}

} // namespace unionscope::cli
