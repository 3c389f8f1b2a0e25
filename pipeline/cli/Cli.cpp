#include "Commands.h"
#include "unionscope/filters/Parallelism.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/Version.h"
#include "unionscope/pipeline/dicom/DicomLibrary.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <exception>
#include <map>
#include <optional>

namespace unionscope::cli {

int run(int argc, char** argv) {
  auto logger = spdlog::stderr_color_mt("unionscope");
  logger->set_pattern("%^%l%$: %v");
  spdlog::set_default_logger(logger);

  CLI::App app{"UnionScope: radiographic union scoring of long-bone fractures from the CT and "
               "radiograph DICOM series of follow-up visits.",
               "unionscope"};
  app.set_version_flag("--version",
                       fmt::format("{} {} (git {})", kSoftwareName, kVersion, kGitCommit));
  app.require_subcommand(1);

  int threads = 0;
  app.add_option("--threads", threads, "Worker threads for TBB, ITK and OpenCV (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  std::string logLevel = "info";
  app.add_option("--log-level", logLevel, "trace, debug, info, warn, error or off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));

  std::map<std::string, CommandRunner> runners;
  runners["analyze"] = addAnalyzeCommand(app);
  runners["phantom"] = addPhantomCommand(app);
  runners["batch"] = addBatchCommand(app);
  runners["view"] = addViewCommand(app);
  runners["read"] = addReadCommand(app);
  runners["inspect"] = addInspectCommand(app);
  runners["cohort"] = addCohortCommand(app);
  runners["agreement"] = addAgreementCommand(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? kExitOk : kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(logLevel));
  dicom::configureDicomLogging(logLevel == "debug" || logLevel == "trace");

  try {
    ThreadingScope threading(threads);
    spdlog::debug("running with {} threads", threading.threads());
    for (CLI::App* command : app.get_subcommands()) {
      return runners.at(command->get_name())();
    }
  } catch (const UsageError& error) {
    spdlog::error("{}", error.what());
    return kExitUsage;
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
    return kExitInternal;
  }
  return kExitUsage;
}

} // namespace unionscope::cli
