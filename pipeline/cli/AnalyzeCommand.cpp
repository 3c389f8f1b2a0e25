#include "Commands.h"
#include "unionscope/pipeline/AnalysedPatient.h"
#include "unionscope/pipeline/Analyze.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/HtmlReport.h"
#include "unionscope/viewer/PatientScene.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>

namespace unionscope::cli {

CommandRunner addAnalyzeCommand(CLI::App& app) {
  struct Options {
    std::vector<std::string> inputs;
    std::string inputsFrom;
    std::string out;
    std::string referenceDate;
    std::string patient;
    std::string view;
    std::vector<double> fractureHint;
    bool useRadiographScores = false;
    bool noDicom = false;
    bool noVolumes = false;
    bool noSnapshot = false;
    bool deidentify = false;
    std::string pseudonym;
    std::optional<long> dateShiftDays;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "analyze",
      "Score union for one patient's follow-up series: writes DIR/report.json and the pictures "
      "that explain each score");
  command->add_option(
      "inputs", options->inputs,
      "DICOM files or folders (searched recursively), DICOMDIRs, PNG/JPEG radiographs");
  command->add_option("--inputs-from", options->inputsFrom,
                      "A text file listing more inputs, one path per line (for lists too long "
                      "for a command line)");
  command->add_option("--out", options->out, "Output folder")->required();
  command->add_option(
      "--reference-date", options->referenceDate,
      "Injury or treatment date (YYYY-MM-DD); weeks count from it (default: the first study)");
  command->add_option("--patient", options->patient,
                      "Patient ID, when the inputs hold several patients");
  command->add_option("--view", options->view, "View of plain image inputs")
      ->check(CLI::IsMember({"AP", "LAT"}));
  command->add_flag("--use-radiograph-scores", options->useRadiographScores,
                    "Let radiograph scores stand for visits without CT (provisional: radiograph "
                    "scoring is not yet validated, see docs/radiograph-analysis.md)");
  command
      ->add_option(
          "--fracture-hint", options->fractureHint,
          "A point on the fracture, X,Y,Z in patient coordinates (LPS, mm): overrides the CT's own "
          "fracture location when they are more than 10 mm apart")
      ->delimiter(',')
      ->expected(3);
  command->add_flag("--no-dicom", options->noDicom,
                    "Do not write DIR/dicom/ (DICOM SEG per CT series, SR TID 1500 per visit)");
  command->add_flag("--no-volumes", options->noVolumes,
                    "Do not write DIR/volumes/ (label map and CT around the fracture per CT "
                    "series, NRRD, for 'unionscope view')");
  command->add_flag("--no-snapshot", options->noSnapshot,
                    "Do not render the 3D snapshot for report.html (rendered when an X display "
                    "is available, e.g. under xvfb-run)");
  command->add_flag(
      "--deidentify", options->deidentify,
      "De-identify DIR/dicom/ (PS3.15 Basic Profile, modified dates kept consistent); keyed by "
      "the environment variable UNIONSCOPE_DEIDENTIFY_SECRET. report.json, audit.json and "
      "report.html still identify the patient");
  command->add_option("--pseudonym", options->pseudonym,
                      "With --deidentify: Patient ID and Name to write (default: derived)");
  command->add_option("--date-shift-days", options->dateShiftDays,
                      "With --deidentify: days added to every date (default: derived)");
  return [options]() {
    AnalyzeOptions analyze;
    analyze.inputs.assign(options->inputs.begin(), options->inputs.end());
    if (!options->inputsFrom.empty()) {
      std::ifstream list(options->inputsFrom);
      if (!list) {
        throw UsageError("cannot read the list of inputs " + options->inputsFrom);
      }
      for (std::string line; std::getline(list, line);) {
        if (!line.empty()) {
          analyze.inputs.emplace_back(line);
        }
      }
    }
    if (analyze.inputs.empty()) {
      throw UsageError("no inputs: give DICOM files or folders, or --inputs-from a list");
    }
    analyze.outputDirectory = options->out;
    if (!options->referenceDate.empty()) {
      analyze.referenceDate = options->referenceDate;
    }
    if (!options->patient.empty()) {
      analyze.patientId = options->patient;
    }
    analyze.viewHint = options->view;
    analyze.useRadiographScores = options->useRadiographScores;
    analyze.writeDicom = !options->noDicom;
    analyze.writeVolumes = !options->noVolumes;
    const char* display = std::getenv("DISPLAY");
    if (!options->noSnapshot && analyze.writeVolumes && display != nullptr && *display != '\0') {
      analyze.renderSnapshot = [](const std::filesystem::path& directory) {
        viewer::renderPatientSnapshot(loadAnalysedPatient(directory),
                                      directory / "images" / kViewerSnapshotImage);
      };
    }
    analyze.deidentify.enabled = options->deidentify;
    if (options->deidentify) {
      const char* secret = std::getenv("UNIONSCOPE_DEIDENTIFY_SECRET");
      analyze.deidentify.secret = secret != nullptr ? secret : "";
      if (analyze.deidentify.secret.empty() && options->pseudonym.empty()) {
        spdlog::warn("--deidentify without UNIONSCOPE_DEIDENTIFY_SECRET: the pseudonym, date "
                     "shift and UIDs can be recomputed by anyone who knows the Patient ID");
      }
      if (!options->pseudonym.empty()) {
        analyze.deidentify.pseudonym = options->pseudonym;
      }
      analyze.deidentify.dateShiftDays = options->dateShiftDays;
    }
    if (options->fractureHint.size() == 3) {
      analyze.ct.fractureHint = std::array<double, 3>{
          options->fractureHint[0], options->fractureHint[1], options->fractureHint[2]};
    }
    const AnalyzeOutcome outcome = analyzePatient(analyze);
    spdlog::info("{} series analysed, {} not, {} files rejected; report: {}",
                 outcome.seriesAnalysed, outcome.seriesFailed, outcome.filesRejected,
                 outcome.report.string());
    if (outcome.exportsFailed > 0) {
      spdlog::warn("{} DICOM export(s) failed: see the notes in the report", outcome.exportsFailed);
    }
    return outcome.seriesFailed > 0 || outcome.filesRejected > 0 || outcome.exportsFailed > 0
               ? kExitPartial
               : kExitOk;
  };
}

} // namespace unionscope::cli
