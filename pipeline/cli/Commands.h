#pragma once
// Each subcommand registers itself on the CLI11 app and returns the function
// that runs it once the command line has been parsed. Exit codes follow
// DESIGN.md: 0 success, 1 some inputs failed but results were written, 2 usage.

#include <functional>

namespace CLI {
class App;
}

namespace unionscope::cli {

using CommandRunner = std::function<int()>;

inline constexpr int kExitOk = 0;
inline constexpr int kExitPartial = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInternal = 3; ///< an unexpected failure: nothing trustworthy was written

CommandRunner addAnalyzeCommand(CLI::App& app);
CommandRunner addBatchCommand(CLI::App& app);
CommandRunner addCohortCommand(CLI::App& app);
CommandRunner addInspectCommand(CLI::App& app);
CommandRunner addPhantomCommand(CLI::App& app);
CommandRunner addViewCommand(CLI::App& app);
CommandRunner addReadCommand(CLI::App& app);
CommandRunner addAgreementCommand(CLI::App& app);
int run(int argc, char** argv);

} // namespace unionscope::cli
