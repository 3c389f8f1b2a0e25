#include "Commands.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/sample_data/Phantom.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

namespace unionscope::cli {

CommandRunner addPhantomCommand(CLI::App& app) {
  struct Options {
    std::string out;
    std::string scenario = "normal";
    std::string implant = "none";
    std::string size = "default";
    std::uint64_t seed = 1;
    int cohort = 0;
    std::string laterality;
    std::vector<double> weeks{6, 12, 24};
    bool monochrome1 = false;
    bool preview = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "phantom", "Write a synthetic patient (CT and AP/lateral radiographs per visit, DICOM) "
                 "with its ground truth in DIR/truth.json");
  command->add_option("--out", options->out, "Output folder")->required();
  command->add_option("--scenario", options->scenario, "Healing trajectory")
      ->check(CLI::IsMember(phantom::scenarioNames()))
      ->capture_default_str();
  command->add_option("--implant", options->implant, "none, nail, plate or external_fixator")
      ->check(CLI::IsMember(phantom::implantNames()))
      ->capture_default_str();
  command->add_option("--size", options->size, "small (tests), default, large (512x512)")
      ->check(CLI::IsMember({"small", "default", "large"}))
      ->capture_default_str();
  command->add_option("--seed", options->seed, "Seed: same seed and options, same bytes")
      ->capture_default_str();
  command
      ->add_option("--cohort", options->cohort,
                   "Write N patients with a seeded mix of scenarios and implants instead")
      ->check(CLI::Range(1, 10000));
  command->add_option("--laterality", options->laterality, "R or L (default: from the seed)")
      ->check(CLI::IsMember({"R", "L"}));
  command->add_option("--weeks", options->weeks, "Visit times in weeks after injury")
      ->delimiter(',')
      ->capture_default_str();
  command->add_flag("--monochrome1", options->monochrome1, "Store the radiographs as MONOCHROME1");
  command->add_flag("--preview", options->preview,
                    "Also write PNG previews of every visit to DIR/preview");

  return [options]() {
    const auto start = std::chrono::steady_clock::now();
    const phantom::SizePreset size = *phantom::sizeFromName(options->size);
    for (double w : options->weeks) {
      if (!(w > 0 && w < 520)) {
        throw UsageError("--weeks: visit times must be between 0 and 520 weeks");
      }
    }
    if (options->cohort > 0) {
      const auto path =
          phantom::writeCohort(options->cohort, options->seed, size, options->out, options->weeks);
      spdlog::info("wrote {} phantom patients; truth in {}", options->cohort, path.string());
    } else {
      phantom::PatientSpec spec = phantom::makePatientSpec(
          options->seed, *phantom::scenarioFromName(options->scenario),
          *phantom::implantFromName(options->implant), size, options->weeks);
      if (!options->laterality.empty()) {
        spec.laterality = options->laterality[0];
      }
      spec.monochrome1 = spec.monochrome1 || options->monochrome1;
      const auto path = phantom::writePatient(spec, options->out, options->preview);
      spdlog::info("wrote phantom patient ({}, implant {}); truth in {}", options->scenario,
                   options->implant, path.string());
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    spdlog::debug("phantom took {:.1f} s", seconds);
    return kExitOk;
  };
}

} // namespace unionscope::cli
