#pragma once
// The DICOM outputs of `analyze` (DIR/dicom/): a SEG per analysed CT series
// and a TID 1500 SR per visit, built from the same values that report.json
// states. Internal to pipeline/: Analyze.cpp calls it.

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope {

/// Where the DICOM outputs go, relative to the output folder.
inline constexpr const char* kDicomOutputFolder = "dicom";

/// A file name part from a visit label ("W12", or a trial's own time point
/// ID): letters, digits, '-', '_' and '.' kept, anything else '_'.
std::string fileSafe(const std::string& text);

/// Writes the SEG of one analysed CT series (the label map of `result`) as
/// DIR/dicom/<stem>_SEG.dcm (`stem`: the series' output stem, unique in the
/// run, <label>_series<N>; `label`: the visit's). `seriesJson` is the series' report
/// entry: the UIDs derive from it, so the same results give the same UIDs.
/// Returns the callus entry for the visit's SR (file name relative to DIR in
/// `relativeFile`). Throws with the file and the reason.
dicom::CallusEntry
writeSeriesSegmentation(const dicom::SeriesGroup& series, const dicom::CtVolumePlan& plan,
                        const CtAnalysisResult& result, const nlohmann::ordered_json& seriesJson,
                        const std::filesystem::path& outputDirectory, const std::string& label,
                        const std::string& stem, std::string& relativeFile,
                        const std::optional<dicom::Deidentification>& deid);

/// What the SR of one visit is built from: the visit's report entry and, per
/// analysed CT series, its images and its callus (with the SEG, if any).
struct VisitExport {
  std::vector<dicom::DicomFileHeader> images;
  std::vector<dicom::CallusEntry> callus;
  std::string laterality = "unknown";
  std::optional<dicom::Deidentification> deidentification;
};

/// Writes DIR/dicom/<label>_SR.dcm and returns its path relative to DIR.
/// Throws with the file and the reason.
std::string writeVisitReport(const nlohmann::ordered_json& timepoint, const VisitExport& visit,
                             const std::filesystem::path& outputDirectory);

/// A reader's categories for one visit, as the SR of their read states them.
struct ReaderVisitExport {
  std::string label;
  std::string laterality = "unknown";
  std::array<std::optional<int>, 4> categories; ///< indexed by Cortex; empty: not assessable
  std::string reader;
  std::string organization;
  std::string signedDicomDateTime;   ///< YYYYMMDDHHMMSS (UTC)
  std::filesystem::path algorithmSr; ///< the algorithm's SR of the visit (DIR/dicom/...)
  /// Identifies the read (reader, version, time): seeds the UIDs.
  std::string identity;
  int seriesNumber = 2001;
};

/// Writes the SR of a reader's read of one visit to `file`: TID 1500 with
/// the reader as person observer, completed and verified by them, in the
/// study of the algorithm's SR, with that SR as evidence. Throws with the
/// file and the reason.
void writeReaderVisitReport(const ReaderVisitExport& visit, const std::filesystem::path& file);

/// The de-identification of a patient's exports: the options' values, else
/// derived from the secret and the Patient ID (deterministic).
dicom::Deidentification deidentificationFor(const std::string& patientId, const std::string& secret,
                                            const std::optional<std::string>& pseudonym,
                                            const std::optional<long>& dateShiftDays);

} // namespace unionscope
