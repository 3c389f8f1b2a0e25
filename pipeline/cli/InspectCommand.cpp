#include "Commands.h"
#include "unionscope/pipeline/InspectReport.h"
#include "unionscope/pipeline/dicom/DicomScan.h"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <iostream>
#include <memory>

namespace unionscope::cli {

CommandRunner addInspectCommand(CLI::App& app) {
  struct Options {
    std::vector<std::string> paths;
    bool json = false;
    bool showIds = false;
  };
  auto options = std::make_shared<Options>();
  CLI::App* command = app.add_subcommand(
      "inspect", "Show what DICOM the ingest finds under PATH: patients, studies, series, and "
                 "every rejected file with its reason");
  command->add_option("paths", options->paths, "Files and folders (searched recursively)")
      ->required();
  command->add_flag("--json", options->json, "Print JSON instead of a table");
  command->add_flag("--show-ids", options->showIds,
                    "Print Patient IDs (by default patients are shown as P1, P2, ...)");
  return [options]() {
    std::vector<std::filesystem::path> inputs(options->paths.begin(), options->paths.end());
    const dicom::ScanResult scan = dicom::scanDicom(inputs);
    const InspectOptions inspect{options->showIds};
    if (options->json) {
      std::cout << inspectJson(scan, inspect).dump(2) << '\n';
    } else {
      std::cout << inspectTable(scan, inspect);
    }
    return scan.rejected.empty() ? kExitOk : kExitPartial;
  };
}

} // namespace unionscope::cli
