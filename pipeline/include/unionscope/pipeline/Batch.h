#pragma once
// `unionscope batch`: every patient of an archive, unattended. One patient's
// failure never stops the others; a resumed batch skips finished patients.

#include "unionscope/pipeline/Analyze.h"

#include <filesystem>

namespace unionscope {

struct BatchOptions {
  std::filesystem::path archive;
  std::filesystem::path outputDirectory;
  int jobs = 0;           ///< patients analysed at once (0: as many as threads)
  bool resume = false;    ///< keep patients whose analysis finished before
  AnalyzeOptions analyze; ///< per-patient settings (inputs and output are set per patient)
};

struct BatchOutcome {
  int patients = 0;
  int analysed = 0;
  int resumed = 0;
  int failed = 0;
  int filesRejected = 0;
};

/// Writes OUT/patients/<key>/ (one analyze output per patient; the key is a
/// hash of the Patient ID, so folder names carry no identifier),
/// OUT/cohort.csv (patient x visit), OUT/cohort.json and the other cohort
/// endpoints, and OUT/failures.csv (every rejected file and failed patient,
/// with the reason).
BatchOutcome runBatch(const BatchOptions& options);

} // namespace unionscope
