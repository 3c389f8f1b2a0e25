// `view` (the 3D viewer and its off-screen snapshot), `read` (a reader's
// signed read, scripted) and `agreement` (reader and algorithm agreement).
#include "Commands.h"
#include "unionscope/pipeline/Agreement.h"
#include "unionscope/pipeline/AnalysedPatient.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/Reads.h"
#include "unionscope/viewer/PatientScene.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <regex>

namespace unionscope::cli {
namespace {

namespace fs = std::filesystem;

struct ReadOptions {
  std::string reader;
  std::string organization;
  bool amend = false;
};

void addReadOptions(CLI::App* command, ReadOptions& options) {
  command->add_option("--organization", options.organization,
                      "The reader's organization (Verifying Organization of the SR)");
  command->add_flag("--amend", options.amend,
                    "The reader has signed a read of this patient already: save this one as the "
                    "next version beside it (never overwritten)");
}

/// Saves a read and says where; the same for the form and the script.
std::string saveAndReport(const AnalysedPatient& patient, ReaderRead& read,
                          const ReadOptions& options, bool writeDicom) {
  read.organization = options.organization;
  SaveReadOptions save;
  save.amend = options.amend;
  save.writeDicom = writeDicom;
  const SavedRead saved = saveRead(patient, read, save);
  for (const std::string& note : saved.notes) {
    spdlog::warn("{}", note);
  }
  int changed = 0;
  for (const VisitRead& visit : read.visits) {
    for (const CortexRead& cortex : visit.cortices) {
      changed += cortex.changed() ? 1 : 0;
    }
  }
  return fmt::format("signed by {} at {} (version {}, {} categories changed): {} and {} SR file(s)",
                     read.reader, read.signedUtc, read.version, changed, saved.json.string(),
                     saved.srFiles.size());
}

std::pair<int, int> parseSize(const std::string& size) {
  static const std::regex kSize(R"(^(\d{2,5})x(\d{2,5})$)");
  std::smatch match;
  if (!std::regex_match(size, match, kSize)) {
    throw UsageError(
        fmt::format("--size must be WIDTHxHEIGHT (for example 1500x900), not '{}'", size));
  }
  return {std::stoi(match[1].str()), std::stoi(match[2].str())};
}

} // namespace

CommandRunner addViewCommand(CLI::App& app) {
  struct Options {
    std::string directory;
    std::string snapshot;
    std::string size;
    std::string layout = "side-by-side";
    std::string visit;
    bool no2d = false;
    std::vector<std::string> keys;
    ReadOptions read;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "view", "3D viewer of an analysed patient: bone and callus of every visit in the registered "
              "frame, cortex categories, fracture plane, reformatted slice and radiographs; the "
              "reader's read with --reader");
  command->footer("\n" + viewer::keyHelp());
  command->add_option("DIR", options->directory, "An analysed patient (analyze --out DIR)")
      ->required();
  command->add_option("--snapshot", options->snapshot,
                      "Render off-screen to this PNG and exit (needs an X display or Xvfb)");
  command->add_option("--size", options->size, "Window or snapshot size, WxH (default 1500x900)");
  command
      ->add_option("--layout", options->layout,
                   "side-by-side: a 3D view per visit; slider: one view and a visit slider")
      ->check(CLI::IsMember({"side-by-side", "slider"}))
      ->capture_default_str();
  command->add_option("--visit", options->visit, "Slider layout: the visit shown (label)");
  command->add_flag("--no-2d", options->no2d, "Leave out the 2D row (slice, radiographs)");
  command
      ->add_option("--keys", options->keys,
                   "Press these keys (e.g. Left Down 3 S) in the window, then close it: a "
                   "scripted session")
      ->delimiter(',');
  command->add_option("--reader", options->read.reader,
                      "Read and sign as this reader (interactive): keys in --help");
  addReadOptions(command, options->read);
  return [options]() {
    const AnalysedPatient patient = loadAnalysedPatient(options->directory);
    viewer::SceneOptions scene;
    if (!options->size.empty()) {
      std::tie(scene.width, scene.height) = parseSize(options->size);
    }
    scene.layout =
        options->layout == "slider" ? viewer::Layout::Slider : viewer::Layout::SideBySide;
    scene.panel2d = !options->no2d;
    scene.keys = options->keys;
    if (!options->visit.empty()) {
      for (std::size_t v = 0; v < patient.visits.size(); ++v) {
        if (patient.visits[v].label == options->visit) {
          scene.visit = v;
        }
      }
      if (!scene.visit) {
        throw UsageError(fmt::format("--visit {}: no such visit in {}", options->visit,
                                     (fs::path(options->directory) / "report.json").string()));
      }
    }
    if (!options->snapshot.empty()) {
      const viewer::SceneStatistics stats =
          viewer::renderPatientSnapshot(patient, options->snapshot, scene);
      for (const viewer::VisitSurfaceStatistics& v : stats.visits) {
        if (v.hasVolumes && v.reportCallusVolumeMm3 && *v.reportCallusVolumeMm3 > 0) {
          spdlog::info("{}: callus surface encloses {:.0f} mm3, report {:.0f} mm3 ({:+.1f}%)",
                       v.label, v.callusEnclosedVolumeMm3, *v.reportCallusVolumeMm3,
                       100.0 * (v.callusEnclosedVolumeMm3 / *v.reportCallusVolumeMm3 - 1.0));
        } else if (!v.hasVolumes) {
          spdlog::warn("{}: no label map in {}/volumes/ (analysed with --no-volumes, or no CT)",
                       v.label, options->directory);
        }
      }
      spdlog::info("snapshot {} ({}x{}): scene {:.0f} ms, render {:.0f} ms", options->snapshot,
                   scene.width, scene.height, stats.buildMilliseconds, stats.renderMilliseconds);
      return kExitOk;
    }
    const char* display = std::getenv("DISPLAY");
    if (display == nullptr || *display == '\0') {
      throw UsageError("no X display for the interactive viewer: run it on a desktop, or "
                       "render with --snapshot FILE.png (under xvfb-run on a server)");
    }
    std::optional<ReaderRead> read;
    if (!options->read.reader.empty()) {
      read = startRead(patient, options->read.reader);
      readerFileStem(options->read.reader); // a name that cannot name a file fails now
    }
    const viewer::SignRead sign = [&](ReaderRead& r) {
      try {
        const std::string message = saveAndReport(patient, r, options->read, true);
        spdlog::info("{}", message);
        return message;
      } catch (const std::exception& error) {
        spdlog::error("{}", error.what());
        return std::string("NOT SAVED: ") + error.what();
      }
    };
    viewer::runInteractiveViewer(patient, scene, read ? &*read : nullptr, sign);
    return kExitOk;
  };
}

CommandRunner addReadCommand(CLI::App& app) {
  struct Options {
    std::string directory;
    std::vector<std::string> assignments;
    bool noDicom = false;
    ReadOptions read;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "read", "A reader's signed read without the viewer: every cortex of every visit accepted "
              "as the algorithm scored it unless --set changes it; saved to DIR/reads/ (JSON and "
              "a DICOM SR per visit with the reader as observer)");
  command->add_option("DIR", options->directory, "An analysed patient (analyze --out DIR)")
      ->required();
  command->add_option("--reader", options->read.reader, "The reader's name, who signs")->required();
  command->add_option("--set", options->assignments,
                      "LABEL:CORTEX=CATEGORY, e.g. W12:anterior=3 (1-4, na, or accept); repeat");
  command->add_flag("--no-dicom", options->noDicom, "Save the JSON only, no SR");
  addReadOptions(command, options->read);
  return [options]() {
    const AnalysedPatient patient = loadAnalysedPatient(options->directory);
    ReaderRead read = startRead(patient, options->read.reader);
    for (const std::string& assignment : options->assignments) {
      applyAssignment(read, assignment);
    }
    const std::string message = saveAndReport(patient, read, options->read, !options->noDicom);
    spdlog::info("{}", message);
    return kExitOk;
  };
}

CommandRunner addAgreementCommand(CLI::App& app) {
  struct Options {
    std::vector<std::string> directories;
    std::string out;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "agreement", "Reader-vs-reader and reader-vs-algorithm agreement over analysed patients' "
                   "reads: quadratic-weighted kappa per cortex, ICC(2,1) for RUST and mRUST");
  command->add_option("DIR", options->directories, "Analysed patients (with DIR/reads/)")
      ->required();
  command->add_option("--out", options->out,
                      "Write agreement.json and agreement.csv to this folder");
  return [options]() {
    std::vector<fs::path> directories(options->directories.begin(), options->directories.end());
    const nlohmann::ordered_json agreement = agreementJson(directories);
    std::cout << agreementTable(agreement);
    if (!options->out.empty()) {
      const fs::path out = options->out;
      writeFileAtomically(out / "agreement.json", agreement.dump(2) + "\n");
      writeFileAtomically(out / "agreement.csv", agreementCsv(agreement));
      spdlog::info("agreement: {} and {}", (out / "agreement.json").string(),
                   (out / "agreement.csv").string());
    }
    return kExitOk;
  };
}

} // namespace unionscope::cli
