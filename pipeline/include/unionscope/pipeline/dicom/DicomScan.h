#pragma once
// Finds DICOM files under the given paths, reads their headers (never the
// pixel data) and groups them into patient -> study -> series. Every file that
// cannot be used is listed with the reason; nothing is dropped silently.

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope::dicom {

/// What one file's header says, as far as grouping and planning need it.
struct DicomFileHeader {
  std::filesystem::path path;
  std::string sopClassUid;
  std::string sopInstanceUid;
  std::string transferSyntaxUid;
  std::string patientId;
  std::string studyInstanceUid;
  std::string studyDate; ///< DICOM DA, YYYYMMDD
  std::string studyDescription;
  std::string clinicalTrialTimePointId;
  std::string seriesInstanceUid;
  std::string seriesDescription;
  std::string modality;
  std::string imageType;
  std::string laterality; ///< (0020,0060), else (0020,0062)
  std::string viewPosition;
  std::string patientOrientation; ///< (0020,0020), e.g. "L\\F": where columns, then rows, point
  std::optional<int> seriesNumber;
  std::optional<int> instanceNumber;
  std::optional<int> acquisitionNumber;
  int rows = 0;
  int columns = 0;
  int frames = 1;
  std::optional<std::array<double, 3>> imagePositionPatient;
  std::optional<std::array<double, 6>> imageOrientationPatient;

  // Pixel encoding and spacing, as the header declares them.
  std::string photometricInterpretation;
  std::string frameOfReferenceUid;
  std::string protocolName;
  std::string bodyPartExamined;
  int samplesPerPixel = 1;
  int bitsAllocated = 0;
  int bitsStored = 0;
  int pixelRepresentation = 0;
  double rescaleSlope = 1.0;
  double rescaleIntercept = 0.0;
  bool hasModalityLutSequence = false;
  std::optional<int> pixelPaddingValue;                    ///< (0028,0120), stored value
  std::optional<std::array<double, 2>> pixelSpacing;       ///< row, column spacing (mm)
  std::optional<std::array<double, 2>> imagerPixelSpacing; ///< at the detector (mm)
  std::optional<double> magnificationFactor;               ///< ERMF (0018,1114)
  std::optional<double> sliceThickness;
  std::optional<double> gantryTilt; ///< (0018,1120), degrees
  /// Enhanced multi-frame objects: the position of every frame, from the
  /// per-frame functional groups (empty for single-frame objects).
  std::vector<std::array<double, 3>> framePositions;

  [[nodiscard]] bool isLocalizer() const;
};

struct RejectedFile {
  std::filesystem::path path;
  std::string reason;
};

struct SeriesGroup {
  std::string seriesInstanceUid; ///< may be empty when the files carry none
  std::string modality;
  std::string description;
  std::optional<int> seriesNumber;
  std::vector<DicomFileHeader> instances; ///< sorted by path
  /// Distinct "ROWSxCOLUMNS" sizes in this series, most frequent first.
  [[nodiscard]] std::vector<std::string> dimensions() const;
  [[nodiscard]] int frameCount() const;
};

struct StudyGroup {
  std::string studyInstanceUid;
  std::string studyDate;
  std::string description;
  std::vector<SeriesGroup> series;
};

struct PatientGroup {
  std::string patientId;
  std::vector<StudyGroup> studies;
};

/// A DICOMDIR met on the way: its listed files join the scan.
struct DicomdirIndex {
  std::filesystem::path path;
  std::size_t listedFiles = 0;
};

struct ScanResult {
  std::size_t filesExamined = 0; ///< every file read: images, indexes and rejects
  std::vector<PatientGroup> patients;
  std::vector<RejectedFile> rejected;
  std::vector<DicomdirIndex> dicomdirs;
  /// PNG, JPEG or TIFF files (radiograph exports): radiographs with unknown
  /// spacing, patient and date.
  std::vector<std::filesystem::path> plainImages;
};

/// By extension: .png, .jpg, .jpeg, .tif, .tiff (any case).
bool isPlainImageFile(const std::filesystem::path& file);

struct ScanOptions {
  /// Files larger than this are not opened (hostile or not a radiology image).
  std::uintmax_t maxFileBytes = std::uintmax_t{4} << 30U;
};

/// Reads one file's header. Throws nothing: failure is returned as a reason.
struct HeaderReadResult {
  std::optional<DicomFileHeader> header;
  std::string rejectReason;
  bool isDicomdir = false; ///< an index: its listed files are what counts
};
HeaderReadResult readDicomHeader(const std::filesystem::path& path,
                                 const ScanOptions& options = {});

/// Walks files and folders (recursively, any file names), reads the headers in
/// parallel and groups them. Output order is deterministic (sorted keys).
ScanResult scanDicom(const std::vector<std::filesystem::path>& inputs,
                     const ScanOptions& options = {});

} // namespace unionscope::dicom
