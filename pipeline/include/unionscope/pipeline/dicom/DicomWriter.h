#pragma once
// Writes CT image series and DX projection radiographs with DCMTK. Used by the
// phantom generator (sample_data/) and by tests that need real files. Output is
// deterministic: no clock, no random UIDs (UIDs come from the caller).

#include "unionscope/filters/ImageTypes.h"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope::dicom {

struct PatientModule {
  std::string id;
  std::string name;
  std::string birthDate; ///< YYYYMMDD or empty
  std::string sex;       ///< M, F, O or empty
};

struct StudyModule {
  std::string instanceUid;
  std::string date; ///< YYYYMMDD
  std::string time; ///< HHMMSS
  std::string id;
  std::string accessionNumber;
  std::string description;
  /// Clinical Trial Subject/Study modules are written when a time point is set.
  std::string clinicalTrialSponsor;
  std::string clinicalTrialProtocolId;
  std::string clinicalTrialSubjectId;
  std::string clinicalTrialTimePointId;
  std::string clinicalTrialTimePointDescription;
};

struct SeriesModule {
  std::string instanceUid;
  int number = 1;
  std::string description;
  std::string laterality; ///< R or L; empty when unknown
  std::string bodyPartExamined = "LEG";
  std::string frameOfReferenceUid;
  std::string manufacturer = "UnionScope";
  std::string manufacturerModelName = "phantom";
};

/// How HU are stored: stored = round((HU - intercept) / slope), clamped to the
/// stored range. Non-integer slopes are legal and exercise readers that
/// truncate (DCMTK's DicomImage does).
struct CtEncoding {
  double rescaleSlope = 1.0;
  double rescaleIntercept = -1024.0;
  bool signedPixels = false;
  int bitsStored = 12;
};

/// A number as DICOM Decimal String (VR DS): at most 16 characters.
std::string formatDs(double value);

/// Writes one file per axial slice (k index of the volume), CT Image Storage,
/// explicit VR little endian. SOP Instance UIDs come from `uidForSlice(k)`.
/// Returns the written paths in slice order.
std::vector<std::filesystem::path>
writeCtSeries(const CtImage& volumeHu, const std::filesystem::path& directory,
              const PatientModule& patient, const StudyModule& study, const SeriesModule& series,
              const std::vector<std::string>& sopInstanceUids, const CtEncoding& encoding = {},
              const std::string& fileNamePrefix = "CT");

/// A code from a coding scheme (SNOMED CT as "SCT", DICOM as "DCM").
struct CodedConcept {
  std::string value;
  std::string scheme;
  std::string meaning;
};

/// SNOMED CT codes for the DX Anatomy Imaged and View modules (PS3.16 CID 4031
/// and CID 4010).
inline const CodedConcept kLowerLeg{"30021000", "SCT", "Lower leg"};
inline const CodedConcept kAnteroPosteriorView{"399348003", "SCT", "antero-posterior"};
inline const CodedConcept kLateroMedialView{"399352003", "SCT", "latero-medial"};

/// A projection radiograph to store as DX (for presentation).
struct DxImageSpec {
  std::string viewPosition; ///< "AP", "PA", "LL", "RL", "LATERAL"...
  CodedConcept viewCode = kAnteroPosteriorView;
  CodedConcept anatomicRegion = kLowerLeg;
  std::string imageLaterality; ///< R, L or U
  double imagerPixelSpacingMm = 0.2;
  /// Estimated Radiographic Magnification Factor (detector / patient plane).
  double magnificationFactor = 1.0;
  double sourceToDetectorMm = 1000.0;
  bool monochrome1 = false;
  int bitsStored = 12;
  std::string sopInstanceUid;
  int instanceNumber = 1;
};

/// `image` holds attenuation normalised to 0..1 (1 = most attenuating, bone
/// bright). MONOCHROME1 stores it inverted, as such detectors do.
std::filesystem::path writeDxImage(const RadiographImage& image, const std::filesystem::path& file,
                                   const PatientModule& patient, const StudyModule& study,
                                   const SeriesModule& series, const DxImageSpec& spec);

} // namespace unionscope::dicom
