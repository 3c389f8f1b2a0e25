#include "Commands.h"
#include "unionscope/pipeline/Cohort.h"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <memory>

namespace unionscope::cli {

CommandRunner addCohortCommand(CLI::App& app) {
  struct Options {
    std::vector<std::string> inputs;
    std::string out;
    double confidence = 0.95;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command =
      app.add_subcommand("cohort", "Cohort endpoints from analysed patients: union rate per visit "
                                   "with an exact confidence interval, "
                                   "time to union (Turnbull)");
  command->add_option("inputs", options->inputs, "report.json files, or folders searched for them")
      ->required();
  command->add_option("--out", options->out, "Output folder")->required();
  command->add_option("--confidence", options->confidence, "Confidence level of the intervals")
      ->check(CLI::Range(0.5, 0.999))
      ->capture_default_str();
  return [options]() {
    CohortOptions cohort;
    cohort.inputs.assign(options->inputs.begin(), options->inputs.end());
    cohort.outputDirectory = options->out;
    cohort.confidence = options->confidence;
    const CohortOutcome outcome = computeCohort(cohort);
    spdlog::info("{} patients, {} reports skipped; endpoints: {}", outcome.patients,
                 outcome.skipped, outcome.json.string());
    return outcome.skipped > 0 ? kExitPartial : kExitOk;
  };
}

} // namespace unionscope::cli
