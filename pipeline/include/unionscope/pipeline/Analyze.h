#pragma once
// `unionscope analyze`: one patient's follow-up series in, DIR/report.json
// (the contract of DESIGN.md, schema unionscope.report/1) and the pictures
// that explain each score out.

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/filters/RadiographUnionAnalysis.h"
#include "unionscope/filters/RigidRegistration.h"
#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/DicomScan.h"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace unionscope {

struct AnalyzeOptions {
  std::vector<std::filesystem::path> inputs;
  std::filesystem::path outputDirectory;
  std::optional<std::string> referenceDate; ///< YYYY-MM-DD; default: the first study
  std::optional<std::string> patientId;     ///< which patient, when the inputs hold several
  std::string viewHint;                     ///< "AP" or "LAT" for plain image files
  CtAnalysisParameters ct;
  RadiographAnalysisParameters radiograph;
  /// Every later CT visit is registered rigidly to the first CT visit on
  /// bone away from the fracture; the transforms go to DIR/registration/.
  RigidRegistrationParameters registration;
  /// Let radiograph scores stand for a visit that has no CT. Off by default:
  /// radiograph scoring is provisional (docs/radiograph-analysis.md).
  bool useRadiographScores = false;
  /// DIR/dicom/: a SEG (bone, callus, metal) per analysed CT series and a
  /// TID 1500 SR per scored visit, listed in report.json ("seg_file",
  /// "sr_file") and audit.json.
  bool writeDicom = true;
  /// DIR/volumes/: per analysed CT series the label map and the CT around
  /// the fracture (NRRD), listed in report.json ("label_map_file",
  /// "ct_file"), for `unionscope view`.
  bool writeVolumes = true;
  /// Renders DIR/images/viewer_snapshot.png for report.html, once report.json
  /// and volumes/ are written (the command line sets it: the viewer is not a
  /// dependency of pipeline/). A failure is a warning, never the run's.
  std::function<void(const std::filesystem::path& outputDirectory)> renderSnapshot;
  /// De-identify DIR/dicom/ (PS3.15 Basic Profile, Retain Longitudinal
  /// Temporal Information with Modified Dates). report.json, audit.json and
  /// report.html are not de-identified.
  struct Deidentify {
    bool enabled = false;
    /// Keys the pseudonym, the date shift and the UIDs. Without one they
    /// follow from the Patient ID alone: anyone who knows it can recompute them.
    std::string secret;
    std::optional<std::string> pseudonym; ///< default: "ANON-" + 10 hex digits
    std::optional<long> dateShiftDays;    ///< default: 1 to 10 years back
  } deidentify;
};

struct AnalyzeOutcome {
  std::filesystem::path report;
  int seriesAnalysed = 0;
  int seriesFailed = 0;
  int filesRejected = 0;
  int exportsFailed = 0;                         ///< SEG or SR files that could not be written
  std::vector<std::filesystem::path> dicomFiles; ///< the SEG and SR files written
  int registrationsFailed = 0; ///< follow-up CTs not registered (reason in the report)
  /// DIR/registration/<label>.tfm and <label>.json per registered visit
  std::vector<std::filesystem::path> registrationFiles;
  std::vector<std::filesystem::path> volumeFiles; ///< DIR/volumes/ files written
};

/// Throws UsageError when the inputs cannot be read as one patient (none, or
/// several without --patient). Series-level failures are reported inside the
/// report, never thrown.
AnalyzeOutcome analyzePatient(const AnalyzeOptions& options);

/// The same for a patient already found by a scan (batch): `rejected` are
/// the files of the scan that could not be used, recorded in the audit.
/// `started` is the audit's start time.
AnalyzeOutcome analyzeScannedPatient(const dicom::PatientGroup& patient,
                                     const std::vector<dicom::RejectedFile>& rejected,
                                     const AnalyzeOptions& options, const std::string& started);

} // namespace unionscope
