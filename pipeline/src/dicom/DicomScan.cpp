#include "unionscope/pipeline/dicom/DicomScan.h"

#include "unionscope/pipeline/dicom/StructureCheck.h"

#include <climits>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <fmt/format.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <system_error>

namespace unionscope::dicom {
namespace {

namespace fs = std::filesystem;

// Element values longer than this stay on disk while the header is parsed, so
// that neither pixel data nor a hostile length field is ever read into memory.
constexpr Uint32 kMaxHeaderValueBytes = 4096;

std::string getString(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFString(tag, value).good()) {
    return value.c_str();
  }
  return {};
}

std::string getStringArray(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFStringArray(tag, value).good()) {
    return value.c_str();
  }
  return {};
}

/// Integer value of an IS, US, SS, UL or SL element (DCMTK's typed getters
/// each accept only some VRs, so go through the normalised string).
std::optional<int> getInt(DcmItem& item, const DcmTagKey& tag) {
  OFString value;
  if (item.findAndGetOFString(tag, value).bad() || value.empty()) {
    return std::nullopt;
  }
  char* end = nullptr;
  errno = 0;
  const long parsed = std::strtol(value.c_str(), &end, 10);
  if (end == value.c_str() || errno != 0 || parsed < INT_MIN || parsed > INT_MAX) {
    return std::nullopt;
  }
  return static_cast<int>(parsed);
}

template <std::size_t N>
std::optional<std::array<double, N>> getDoubles(DcmItem& item, const DcmTagKey& tag) {
  std::array<double, N> values{};
  for (std::size_t i = 0; i < N; ++i) {
    Float64 value = 0;
    if (item.findAndGetFloat64(tag, value, static_cast<unsigned long>(i)).bad()) {
      return std::nullopt;
    }
    values[i] = value;
  }
  return values;
}

/// Checks that uncompressed pixel data holds at least what Rows x Columns x
/// Frames x BitsAllocated declare; encapsulated data is checked when decoded.
std::string checkNativePixelLength(DcmDataset& dataset, const DicomFileHeader& header) {
  DcmElement* pixelData = nullptr;
  if (dataset.findAndGetElement(DCM_PixelData, pixelData).bad() || pixelData == nullptr) {
    return {};
  }
  const Uint32 length = pixelData->getLengthField();
  if (length == DCM_UndefinedLength) {
    return {};
  }
  const int bitsAllocated = getInt(dataset, DCM_BitsAllocated).value_or(0);
  const int samples = getInt(dataset, DCM_SamplesPerPixel).value_or(1);
  if (bitsAllocated <= 0 || samples <= 0) {
    return "Bits Allocated or Samples per Pixel missing or invalid";
  }
  const std::uint64_t bits = std::uint64_t(header.rows) * std::uint64_t(header.columns) *
                             std::uint64_t(header.frames) * std::uint64_t(samples) *
                             std::uint64_t(bitsAllocated);
  const std::uint64_t expected = (bits + 7) / 8;
  if (length < expected) {
    return fmt::format("Pixel Data holds {} bytes but {}x{}x{} frames at {} bits need {}", length,
                       header.columns, header.rows, header.frames, bitsAllocated, expected);
  }
  return {};
}

/// The files a DICOMDIR lists (Referenced File ID, relative to its folder).
std::vector<fs::path> filesListedIn(const fs::path& dicomdir, std::vector<RejectedFile>& rejected) {
  std::vector<fs::path> files;
  if (const StructureCheck structure = checkDicomStructure(dicomdir); !structure.ok) {
    rejected.push_back({dicomdir, "malformed DICOMDIR: " + structure.reason});
    return files;
  }
  DcmFileFormat file;
  if (const OFCondition status = file.loadFile(OFFilename(dicomdir.c_str())); status.bad()) {
    rejected.push_back({dicomdir, fmt::format("unreadable DICOMDIR: {}", status.text())});
    return files;
  }
  DcmSequenceOfItems* records = nullptr;
  if (file.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, records).bad() ||
      records == nullptr) {
    rejected.push_back({dicomdir, "DICOMDIR without Directory Record Sequence"});
    return files;
  }
  for (unsigned long i = 0; i < records->card(); ++i) {
    OFString id;
    if (records->getItem(i)->findAndGetOFStringArray(DCM_ReferencedFileID, id).bad() ||
        id.empty()) {
      continue;
    }
    fs::path relative;
    std::string component;
    for (const char c : std::string(id.c_str()) + "\\") {
      if (c == '\\') {
        if (!component.empty() && component != "..") {
          relative /= component;
        }
        component.clear();
      } else {
        component.push_back(c);
      }
    }
    const fs::path listed = dicomdir.parent_path() / relative;
    std::error_code error;
    if (fs::is_regular_file(listed, error)) {
      files.push_back(listed.lexically_normal());
    } else {
      rejected.push_back({listed, "listed in DICOMDIR " + dicomdir.string() + " but missing"});
    }
  }
  return files;
}

std::vector<fs::path> collectFiles(const std::vector<fs::path>& inputs,
                                   std::vector<RejectedFile>& rejected) {
  std::set<fs::path> files;
  for (const fs::path& input : inputs) {
    std::error_code error;
    const fs::file_status status = fs::status(input, error);
    if (error || !fs::exists(status)) {
      rejected.push_back({input, "does not exist or cannot be accessed"});
      continue;
    }
    if (fs::is_regular_file(status)) {
      files.insert(input.lexically_normal());
      continue;
    }
    if (!fs::is_directory(status)) {
      rejected.push_back({input, "neither a regular file nor a folder"});
      continue;
    }
    fs::recursive_directory_iterator it(input, fs::directory_options::skip_permission_denied,
                                        error);
    for (; !error && it != fs::recursive_directory_iterator(); it.increment(error)) {
      std::error_code typeError;
      if (it->is_regular_file(typeError)) {
        files.insert(it->path().lexically_normal());
      }
    }
    if (error) {
      rejected.push_back({input, "folder walk stopped: " + error.message()});
    }
  }
  return {files.begin(), files.end()};
}

/// Attributes that enhanced multi-frame objects keep in functional groups:
/// looks in the Shared Functional Groups first, then in the first per-frame
/// item, then at the top level.
DcmItem* functionalGroup(DcmDataset& dataset, const DcmTagKey& sequence, const DcmTagKey& macro) {
  for (const DcmTagKey& groups :
       {DCM_SharedFunctionalGroupsSequence, DCM_PerFrameFunctionalGroupsSequence}) {
    DcmItem* groupItem = nullptr;
    if (dataset.findAndGetSequenceItem(groups, groupItem, 0).good() && groupItem != nullptr) {
      DcmItem* macroItem = nullptr;
      if (groupItem->findAndGetSequenceItem(macro, macroItem, 0).good() && macroItem != nullptr &&
          macroItem->tagExists(sequence)) {
        return macroItem;
      }
    }
  }
  return nullptr;
}

void readEnhancedGeometry(DcmDataset& dataset, DicomFileHeader& h) {
  if (DcmItem* measures = functionalGroup(dataset, DCM_PixelSpacing, DCM_PixelMeasuresSequence)) {
    h.pixelSpacing = getDoubles<2>(*measures, DCM_PixelSpacing);
    Float64 thickness = 0;
    if (measures->findAndGetFloat64(DCM_SliceThickness, thickness).good()) {
      h.sliceThickness = thickness;
    }
  }
  if (DcmItem* orientation =
          functionalGroup(dataset, DCM_ImageOrientationPatient, DCM_PlaneOrientationSequence)) {
    h.imageOrientationPatient = getDoubles<6>(*orientation, DCM_ImageOrientationPatient);
  }
  if (DcmItem* transform =
          functionalGroup(dataset, DCM_RescaleSlope, DCM_PixelValueTransformationSequence)) {
    Float64 value = 0;
    if (transform->findAndGetFloat64(DCM_RescaleSlope, value).good()) {
      h.rescaleSlope = value;
    }
    if (transform->findAndGetFloat64(DCM_RescaleIntercept, value).good()) {
      h.rescaleIntercept = value;
    }
  }
  DcmSequenceOfItems* perFrame = nullptr;
  if (dataset.findAndGetSequence(DCM_PerFrameFunctionalGroupsSequence, perFrame).good() &&
      perFrame) {
    for (unsigned long i = 0; i < perFrame->card(); ++i) {
      DcmItem* position = nullptr;
      if (perFrame->getItem(i)
              ->findAndGetSequenceItem(DCM_PlanePositionSequence, position, 0)
              .bad() ||
          position == nullptr) {
        h.framePositions.clear();
        return;
      }
      const auto ipp = getDoubles<3>(*position, DCM_ImagePositionPatient);
      if (!ipp) {
        h.framePositions.clear();
        return;
      }
      h.framePositions.push_back(*ipp);
    }
  }
}

std::string studyKey(const DicomFileHeader& h) {
  return h.studyInstanceUid.empty() ? "nouid:" + h.studyDate + "|" + h.studyDescription
                                    : h.studyInstanceUid;
}

std::string seriesKey(const DicomFileHeader& h) {
  return h.seriesInstanceUid.empty() ? fmt::format("nouid:{}|{}|{}", h.modality,
                                                   h.seriesNumber.value_or(-1), h.seriesDescription)
                                     : h.seriesInstanceUid;
}

} // namespace

bool isPlainImageFile(const fs::path& file) {
  std::string extension = file.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg" ||
         extension == ".tif" || extension == ".tiff";
}

bool DicomFileHeader::isLocalizer() const {
  // Image Type value 3 is LOCALIZER on CT scouts (PS3.3 C.8.2.1.1.1).
  return imageType.find("LOCALIZER") != std::string::npos;
}

std::vector<std::string> SeriesGroup::dimensions() const {
  std::map<std::string, int> counts;
  for (const DicomFileHeader& instance : instances) {
    ++counts[fmt::format("{}x{}", instance.columns, instance.rows)];
  }
  std::vector<std::pair<std::string, int>> ordered(counts.begin(), counts.end());
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> result;
  for (const auto& [size, count] : ordered) {
    result.push_back(size);
  }
  return result;
}

int SeriesGroup::frameCount() const {
  int frames = 0;
  for (const DicomFileHeader& instance : instances) {
    frames += instance.frames;
  }
  return frames;
}

HeaderReadResult readDicomHeader(const fs::path& path, const ScanOptions& options) {
  HeaderReadResult result;
  std::error_code error;
  const std::uintmax_t size = fs::file_size(path, error);
  if (error) {
    result.rejectReason = "cannot read file size: " + error.message();
    return result;
  }
  if (size == 0) {
    result.rejectReason = "empty file";
    return result;
  }
  if (size > options.maxFileBytes) {
    result.rejectReason =
        fmt::format("file of {} bytes exceeds the {} byte limit", size, options.maxFileBytes);
    return result;
  }
  const StructureCheck structure = checkDicomStructure(path);
  const bool preamble = structure.preamble;
  if (!structure.ok) {
    result.rejectReason = preamble ? "malformed DICOM: " + structure.reason : "not a DICOM file";
    return result;
  }
  if (structure.mediaStorageSopClassUid == UID_MediaStorageDirectoryStorage) {
    result.isDicomdir = true;
    result.rejectReason = "DICOMDIR index, not an image";
    return result;
  }
  DcmFileFormat file;
  const OFCondition status = file.loadFile(OFFilename(path.c_str()), EXS_Unknown, EGL_noChange,
                                           kMaxHeaderValueBytes, ERM_autoDetect);
  if (status.bad()) {
    result.rejectReason =
        preamble ? fmt::format("unreadable DICOM: {}", status.text()) : "not a DICOM file";
    return result;
  }
  DcmDataset& dataset = *file.getDataset();
  DcmMetaInfo& meta = *file.getMetaInfo();
  DicomFileHeader h;
  h.path = path;
  h.sopClassUid = getString(dataset, DCM_SOPClassUID);
  const std::string mediaClass = getString(meta, DCM_MediaStorageSOPClassUID);
  if (mediaClass == UID_MediaStorageDirectoryStorage) {
    result.rejectReason = "DICOMDIR index, not an image";
    return result;
  }
  h.rows = getInt(dataset, DCM_Rows).value_or(0);
  h.columns = getInt(dataset, DCM_Columns).value_or(0);
  // A file without preamble is accepted only when it parses as a plausible
  // dataset: random bytes sometimes parse as implicit VR elements.
  if (!preamble && h.sopClassUid.empty() && (h.rows == 0 || h.columns == 0)) {
    result.rejectReason = "not a DICOM file";
    return result;
  }
  h.sopInstanceUid = getString(dataset, DCM_SOPInstanceUID);
  h.transferSyntaxUid = DcmXfer(dataset.getOriginalXfer()).getXferID();
  h.patientId = getString(dataset, DCM_PatientID);
  h.studyInstanceUid = getString(dataset, DCM_StudyInstanceUID);
  h.studyDate = getString(dataset, DCM_StudyDate);
  h.studyDescription = getString(dataset, DCM_StudyDescription);
  h.clinicalTrialTimePointId = getString(dataset, DCM_ClinicalTrialTimePointID);
  h.seriesInstanceUid = getString(dataset, DCM_SeriesInstanceUID);
  h.seriesDescription = getString(dataset, DCM_SeriesDescription);
  h.modality = getString(dataset, DCM_Modality);
  h.imageType = getStringArray(dataset, DCM_ImageType);
  h.laterality = getString(dataset, DCM_Laterality);
  if (h.laterality.empty()) {
    h.laterality = getString(dataset, DCM_ImageLaterality);
  }
  h.viewPosition = getString(dataset, DCM_ViewPosition);
  h.patientOrientation = getStringArray(dataset, DCM_PatientOrientation);
  h.seriesNumber = getInt(dataset, DCM_SeriesNumber);
  h.instanceNumber = getInt(dataset, DCM_InstanceNumber);
  h.acquisitionNumber = getInt(dataset, DCM_AcquisitionNumber);
  h.frames = std::max(1, getInt(dataset, DCM_NumberOfFrames).value_or(1));
  h.imagePositionPatient = getDoubles<3>(dataset, DCM_ImagePositionPatient);
  h.imageOrientationPatient = getDoubles<6>(dataset, DCM_ImageOrientationPatient);
  h.photometricInterpretation = getString(dataset, DCM_PhotometricInterpretation);
  h.frameOfReferenceUid = getString(dataset, DCM_FrameOfReferenceUID);
  h.protocolName = getString(dataset, DCM_ProtocolName);
  h.bodyPartExamined = getString(dataset, DCM_BodyPartExamined);
  h.samplesPerPixel = getInt(dataset, DCM_SamplesPerPixel).value_or(1);
  h.bitsAllocated = getInt(dataset, DCM_BitsAllocated).value_or(0);
  h.bitsStored = getInt(dataset, DCM_BitsStored).value_or(h.bitsAllocated);
  h.pixelRepresentation = getInt(dataset, DCM_PixelRepresentation).value_or(0);
  Float64 value = 0;
  if (dataset.findAndGetFloat64(DCM_RescaleSlope, value).good() && value != 0.0) {
    h.rescaleSlope = value;
  }
  if (dataset.findAndGetFloat64(DCM_RescaleIntercept, value).good()) {
    h.rescaleIntercept = value;
  }
  h.hasModalityLutSequence = dataset.tagExists(DCM_ModalityLUTSequence);
  h.pixelPaddingValue = getInt(dataset, DCM_PixelPaddingValue);
  h.pixelSpacing = getDoubles<2>(dataset, DCM_PixelSpacing);
  h.imagerPixelSpacing = getDoubles<2>(dataset, DCM_ImagerPixelSpacing);
  if (dataset.findAndGetFloat64(DCM_EstimatedRadiographicMagnificationFactor, value).good() &&
      value > 0) {
    h.magnificationFactor = value;
  }
  if (dataset.findAndGetFloat64(DCM_SliceThickness, value).good()) {
    h.sliceThickness = value;
  }
  if (dataset.findAndGetFloat64(DCM_GantryDetectorTilt, value).good()) {
    h.gantryTilt = value;
  }
  if (h.frames > 1 || dataset.tagExists(DCM_SharedFunctionalGroupsSequence)) {
    readEnhancedGeometry(dataset, h);
  }

  if (!dataset.tagExists(DCM_PixelData) && !dataset.tagExists(DCM_FloatPixelData) &&
      !dataset.tagExists(DCM_DoubleFloatPixelData)) {
    const char* name = dcmFindNameOfUID(h.sopClassUid.c_str());
    result.rejectReason =
        fmt::format("no Pixel Data: not an image ({})", name ? name : h.sopClassUid.c_str());
    return result;
  }
  if (h.rows <= 0 || h.columns <= 0) {
    result.rejectReason = "Rows or Columns missing or zero";
    return result;
  }
  if (std::string reason = checkNativePixelLength(dataset, h); !reason.empty()) {
    result.rejectReason = std::move(reason);
    return result;
  }
  result.header = std::move(h);
  return result;
}

ScanResult scanDicom(const std::vector<fs::path>& inputs, const ScanOptions& options) {
  ScanResult result;
  std::vector<fs::path> files = collectFiles(inputs, result.rejected);
  std::vector<HeaderReadResult> headers(files.size());
  oneapi::tbb::parallel_for(std::size_t{0}, files.size(), [&](std::size_t i) {
    headers[i] = readDicomHeader(files[i], options);
  });
  // DICOMDIRs bring in the files they list that the walk did not meet.
  const std::set<fs::path> seen(files.begin(), files.end());
  std::set<fs::path> listed;
  std::vector<std::size_t> indexes;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (headers[i].isDicomdir) {
      indexes.push_back(i);
      const std::vector<fs::path> referenced = filesListedIn(files[i], result.rejected);
      result.dicomdirs.push_back({files[i], referenced.size()});
      for (const fs::path& file : referenced) {
        if (seen.count(file) == 0) {
          listed.insert(file);
        }
      }
    }
  }
  for (auto it = indexes.rbegin(); it != indexes.rend(); ++it) {
    files.erase(files.begin() + static_cast<std::ptrdiff_t>(*it));
    headers.erase(headers.begin() + static_cast<std::ptrdiff_t>(*it));
  }
  const std::size_t walked = files.size();
  files.insert(files.end(), listed.begin(), listed.end());
  headers.resize(files.size());
  oneapi::tbb::parallel_for(walked, files.size(), [&](std::size_t i) {
    headers[i] = readDicomHeader(files[i], options);
  });
  result.filesExamined = files.size() + result.dicomdirs.size();

  // std::map keeps the grouping independent of thread scheduling.
  std::map<std::string, std::map<std::string, std::map<std::string, SeriesGroup>>> tree;
  std::map<std::string, StudyGroup> studyInfo;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (!headers[i].header) {
      if (headers[i].rejectReason == "not a DICOM file" && isPlainImageFile(files[i])) {
        result.plainImages.push_back(files[i]);
      } else {
        result.rejected.push_back({files[i], headers[i].rejectReason});
      }
      continue;
    }
    DicomFileHeader& h = *headers[i].header;
    const std::string study = studyKey(h);
    SeriesGroup& series = tree[h.patientId][study][seriesKey(h)];
    if (series.instances.empty()) {
      series.seriesInstanceUid = h.seriesInstanceUid;
      series.modality = h.modality;
      series.description = h.seriesDescription;
      series.seriesNumber = h.seriesNumber;
    }
    StudyGroup& info = studyInfo[h.patientId + "\n" + study];
    if (info.studyInstanceUid.empty() && info.studyDate.empty()) {
      info.studyInstanceUid = h.studyInstanceUid;
      info.studyDate = h.studyDate;
      info.description = h.studyDescription;
    }
    series.instances.push_back(std::move(h));
  }

  for (auto& [patientId, studies] : tree) {
    PatientGroup patient;
    patient.patientId = patientId;
    for (auto& [key, seriesMap] : studies) {
      StudyGroup study = studyInfo[patientId + "\n" + key];
      for (auto& [seriesKeyValue, series] : seriesMap) {
        study.series.push_back(std::move(series));
      }
      patient.studies.push_back(std::move(study));
    }
    std::stable_sort(
        patient.studies.begin(), patient.studies.end(),
        [](const StudyGroup& a, const StudyGroup& b) { return a.studyDate < b.studyDate; });
    result.patients.push_back(std::move(patient));
  }
  std::sort(result.rejected.begin(), result.rejected.end(),
            [](const RejectedFile& a, const RejectedFile& b) { return a.path < b.path; });
  return result;
}

} // namespace unionscope::dicom
