#pragma once
// `unionscope cohort`: cohort endpoints from analysed patients (their
// report.json files): union rate per visit with an exact confidence
// interval, and the time to union for interval-censored data (Turnbull).

#include <filesystem>
#include <vector>

namespace unionscope {

struct CohortOptions {
  std::vector<std::filesystem::path> inputs; ///< report.json files or folders holding them
  std::filesystem::path outputDirectory;
  double confidence = 0.95;
};

struct CohortOutcome {
  int patients = 0;
  int skipped = 0; ///< reports that could not be used (listed in cohort.json)
  std::filesystem::path json;
};

/// Writes OUT/cohort.json, OUT/union_rates.csv, OUT/time_to_union.csv and
/// OUT/time_to_union.png. Throws UsageError when no report is found.
CohortOutcome computeCohort(const CohortOptions& options);

} // namespace unionscope
