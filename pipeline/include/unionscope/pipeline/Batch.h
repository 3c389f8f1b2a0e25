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
  /// When set (the unionscope executable), each patient is analysed by a
  /// child process running its `analyze`, its output in OUT/logs/: a crash
  /// or a hang then fails that patient alone, with the reason in
  /// failures.csv. The child gets the reference date and whether to write
  /// DICOM and volumes from `analyze`, and runs with the default analysis
  /// parameters; runBatch refuses other per-patient settings with a worker.
  /// Its audit.json lists the patient's files as its request's inputs.
  /// While children run, SIGINT, SIGTERM and SIGHUP stop them and then the
  /// batch. Empty: patients are analysed in this process.
  std::filesystem::path workerExecutable;
  /// With a worker: a patient still running after this many minutes is
  /// stopped and reported failed (0: no limit).
  double patientTimeoutMinutes = 0;
};

struct BatchOutcome {
  int patients = 0;
  int analysed = 0;
  int resumed = 0;
  int failed = 0;
  int filesRejected = 0;
};

/// Writes OUT/patients/<key>/ (one analyze output per patient; the key is a
/// hash of the Patient ID, so folder names carry no identifier), with a
/// worker OUT/logs/<key>.log (what the patient's analysis printed),
/// OUT/cohort.csv (patient x visit), OUT/cohort.json and the other cohort
/// endpoints, and OUT/failures.csv (every rejected file and failed patient,
/// with the reason).
BatchOutcome runBatch(const BatchOptions& options);

} // namespace unionscope
