#pragma once
// DICOM export of the analysis, written with DCMTK's own IOD classes: a
// Segmentation (SEG, dcmseg) of bone, callus and metal on a CT series' grid,
// and per visit a Measurement Report (SR TID 1500, dcmsr/cmr) with the
// per-cortex categories, bridged fractions, callus measures and scores. Both
// join the source study (its Patient and Study modules, Study Instance UID)
// as new series, so that they land in the PACS beside the images. Nothing
// comes from the clock: UIDs come from the caller, dates from the source
// study, so the same input writes the same files.

#include "unionscope/filters/ImageTypes.h"
#include "unionscope/filters/Scores.h"
#include "unionscope/pipeline/dicom/DicomScan.h"

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope::dicom {

/// How exported files are de-identified (PS3.15 Annex E: Basic Application
/// Level Confidentiality Profile, Retain Longitudinal Temporal Information
/// with Modified Dates Option, Clean Descriptors Option). The same values
/// give the same pseudonyms, dates and UIDs, so the visits of a patient stay
/// linked and intervals between them stay exact.
/// De-identification Method (0012,0063) of de-identified exports (LO: at
/// most 64 characters); the code sequence says the same in DCM codes.
inline constexpr const char* kDeidentificationMethod =
    "PS3.15 E Basic Profile, Modified Dates, Clean Descriptors";

struct Deidentification {
  std::string pseudonym;  ///< replaces Patient ID and Patient's Name
  long dateShiftDays = 0; ///< added to every date (times are kept)
  /// UIDs other than DICOM's own (1.2.840.10008.*) become 2.25 UIDs derived
  /// from this secret and the original UID.
  std::string uidSecret;
};

/// Segment numbers of the SEG (and CtLabel values of the label map).
inline constexpr int kSegmentBone = 1;
inline constexpr int kSegmentCallus = 2;
inline constexpr int kSegmentMetal = 3;

struct SegmentationRequest {
  /// CtLabel values (1 bone, 2 callus, 3 metal) on the CT volume's grid.
  const MaskImage* labels = nullptr;
  /// Per slice k of `labels`: the source image it was derived from.
  std::vector<DicomFileHeader> sliceSources;
  std::string seriesInstanceUid;
  std::string sopInstanceUid;
  std::string dimensionOrganizationUid;
  int seriesNumber = 1;
  std::string seriesDescription;
  std::optional<Deidentification> deidentification;
};

struct SegmentationSummary {
  /// Frames written per segment, indexed by segment number - 1. Only slices
  /// where a segment has voxels get a frame (empty frames carry nothing and a
  /// 400-slice CT would triple the file).
  std::array<int, 3> frames{};
};

/// Writes a binary SEG. Throws DicomError naming the file and the reason.
SegmentationSummary writeSegmentation(const SegmentationRequest& request,
                                      const std::filesystem::path& file);

/// One cortex as the report states it.
struct CortexEntry {
  std::optional<int> category; ///< 1..4; empty when not assessable
  std::optional<double> bridgedFraction;
  std::string notAssessable;
};

/// Callus of one CT series, with the SEG that outlines it when one was written.
struct CallusEntry {
  std::string ctSeriesInstanceUid;
  int ctSeriesNumber = 0;
  double volumeMm3 = 0;
  double meanHu = 0;
  std::string segSopInstanceUid; ///< empty: no SEG
  std::string segSeriesInstanceUid;
};

struct MeasurementReportRequest {
  std::string timepointLabel;
  std::string laterality;              ///< "R", "L" or "unknown"
  std::array<CortexEntry, 4> cortices; ///< indexed by Cortex
  std::optional<int> rust;
  std::optional<int> mrust;
  std::optional<bool> unionReached;
  std::vector<CallusEntry> callus;
  /// The images measured (the image library), in any order; the first one
  /// gives the Patient and Study modules.
  std::vector<DicomFileHeader> sourceImages;
  std::string seriesInstanceUid;
  std::string sopInstanceUid;
  std::string deviceObserverUid;
  /// Tracking Unique Identifiers of the measurement groups are derived from this.
  std::string trackingUidPrefix;
  int seriesNumber = 1;
  std::optional<Deidentification> deidentification;

  /// A person's read rather than the software's measurement: the person
  /// observer (TID 1002, Observer Type PSN, Person Observer Name) replaces the
  /// device observer, and the document is completed, and with an
  /// organization (Verifying Organization is type 1) verified by that person
  /// at `dateTime` (which is also its content date and time).
  struct PersonObserver {
    std::string name;         ///< free text; written as the PN's family name component
    std::string organization; ///< empty: the SR is complete but not verified
    std::string dateTime;     ///< YYYYMMDDHHMMSS, UTC
  };
  std::optional<PersonObserver> personObserver;
  /// The report this one answers (the software's SR of the visit), used when
  /// `sourceImages` is empty: its Patient and Study modules are copied, and
  /// it and its evidence become this report's evidence.
  std::filesystem::path basedOnReport;
  std::string seriesDescription; ///< default: "UnionScope measurements <label>"
};

/// Writes an Enhanced SR with the TID 1500 tree. Throws DicomError naming
/// the file and the reason.
void writeMeasurementReport(const MeasurementReportRequest& request,
                            const std::filesystem::path& file);

} // namespace unionscope::dicom
