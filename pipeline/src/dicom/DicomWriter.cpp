#include "unionscope/pipeline/dicom/DicomWriter.h"

#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/Version.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace unionscope::dicom {
namespace {

namespace fs = std::filesystem;

void put(DcmItem& item, const DcmTagKey& tag, const std::string& value) {
  const OFCondition status = item.putAndInsertString(tag, value.c_str());
  if (status.bad()) {
    throw DicomError(fmt::format("cannot set {}: {}", DcmTag(tag).getTagName(), status.text()));
  }
}

std::string joinDs(std::initializer_list<double> values) {
  std::string text;
  for (double value : values) {
    if (!text.empty()) {
      text += '\\';
    }
    text += formatDs(value);
  }
  return text;
}

void putCommonModules(DcmDataset& ds, const PatientModule& patient, const StudyModule& study,
                      const SeriesModule& series, const std::string& modality) {
  put(ds, DCM_SpecificCharacterSet, "ISO_IR 192");
  put(ds, DCM_PatientName, patient.name);
  put(ds, DCM_PatientID, patient.id);
  put(ds, DCM_PatientBirthDate, patient.birthDate);
  put(ds, DCM_PatientSex, patient.sex);
  put(ds, DCM_StudyInstanceUID, study.instanceUid);
  put(ds, DCM_StudyDate, study.date);
  put(ds, DCM_StudyTime, study.time);
  put(ds, DCM_ReferringPhysicianName, "");
  put(ds, DCM_StudyID, study.id);
  put(ds, DCM_AccessionNumber, study.accessionNumber);
  put(ds, DCM_StudyDescription, study.description);
  if (!study.clinicalTrialTimePointId.empty()) {
    put(ds, DCM_ClinicalTrialSponsorName, study.clinicalTrialSponsor);
    put(ds, DCM_ClinicalTrialProtocolID, study.clinicalTrialProtocolId);
    put(ds, DCM_ClinicalTrialProtocolName, "");
    put(ds, DCM_ClinicalTrialSiteID, "");
    put(ds, DCM_ClinicalTrialSiteName, "");
    put(ds, DCM_ClinicalTrialSubjectID, study.clinicalTrialSubjectId);
    put(ds, DCM_ClinicalTrialTimePointID, study.clinicalTrialTimePointId);
    put(ds, DCM_ClinicalTrialTimePointDescription, study.clinicalTrialTimePointDescription);
  }
  put(ds, DCM_Modality, modality);
  put(ds, DCM_SeriesInstanceUID, series.instanceUid);
  put(ds, DCM_SeriesNumber, std::to_string(series.number));
  put(ds, DCM_SeriesDescription, series.description);
  put(ds, DCM_SeriesDate, study.date);
  put(ds, DCM_SeriesTime, study.time);
  put(ds, DCM_BodyPartExamined, series.bodyPartExamined);
  put(ds, DCM_Manufacturer, series.manufacturer);
  put(ds, DCM_ManufacturerModelName, series.manufacturerModelName);
  put(ds, DCM_SoftwareVersions, fmt::format("{} {}", kSoftwareName, kVersion));
  put(ds, DCM_ContentDate, study.date);
  put(ds, DCM_ContentTime, study.time);
}

void putCodeItem(DcmItem& parent, const DcmTagKey& sequence, const CodedConcept& code) {
  DcmItem* item = nullptr;
  const OFCondition status = parent.findOrCreateSequenceItem(sequence, item, 0);
  if (status.bad() || item == nullptr) {
    throw DicomError(
        fmt::format("cannot create {}: {}", DcmTag(sequence).getTagName(), status.text()));
  }
  put(*item, DCM_CodeValue, code.value);
  put(*item, DCM_CodingSchemeDesignator, code.scheme);
  put(*item, DCM_CodeMeaning, code.meaning);
}

void save(DcmFileFormat& file, const fs::path& path) {
  fs::create_directories(path.parent_path());
  const OFCondition status =
      file.saveFile(OFFilename(path.c_str()), EXS_LittleEndianExplicit, EET_ExplicitLength,
                    EGL_recalcGL, EPD_noChange, 0, 0, EWM_createNewMeta);
  if (status.bad()) {
    throw DicomError(fmt::format("cannot write {}: {}", path.string(), status.text()));
  }
}

} // namespace

std::string formatDs(double value) {
  for (int precision = 10; precision > 1; --precision) {
    std::string text = fmt::format("{:.{}g}", value, precision);
    if (text.size() <= 16) {
      return text;
    }
  }
  return fmt::format("{:.1g}", value);
}

std::vector<fs::path> writeCtSeries(const CtImage& volumeHu, const fs::path& directory,
                                    const PatientModule& patient, const StudyModule& study,
                                    const SeriesModule& series,
                                    const std::vector<std::string>& sopInstanceUids,
                                    const CtEncoding& encoding, const std::string& fileNamePrefix) {
  const auto size = volumeHu.GetLargestPossibleRegion().GetSize();
  const auto spacing = volumeHu.GetSpacing();
  const auto direction = volumeHu.GetDirection();
  if (sopInstanceUids.size() != size[2]) {
    throw DicomError("writeCtSeries: one SOP Instance UID per slice is required");
  }
  if (encoding.bitsStored < 8 || encoding.bitsStored > 16 || encoding.rescaleSlope <= 0) {
    throw DicomError("writeCtSeries: invalid pixel encoding");
  }
  const double storedMin = encoding.signedPixels ? -std::ldexp(1.0, encoding.bitsStored - 1) : 0.0;
  const double storedMax = encoding.signedPixels ? std::ldexp(1.0, encoding.bitsStored - 1) - 1.0
                                                 : std::ldexp(1.0, encoding.bitsStored) - 1.0;
  const std::size_t slicePixels = size[0] * size[1];
  std::vector<Uint16> stored(slicePixels);
  std::vector<fs::path> written;
  written.reserve(size[2]);

  for (std::size_t k = 0; k < size[2]; ++k) {
    DcmFileFormat file;
    DcmDataset& ds = *file.getDataset();
    putCommonModules(ds, patient, study, series, "CT");
    put(ds, DCM_SOPClassUID, UID_CTImageStorage);
    put(ds, DCM_SOPInstanceUID, sopInstanceUids[k]);
    put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY\\AXIAL");
    put(ds, DCM_Laterality, series.laterality);
    put(ds, DCM_PatientPosition, "FFS");
    put(ds, DCM_FrameOfReferenceUID, series.frameOfReferenceUid);
    put(ds, DCM_PositionReferenceIndicator, "");
    put(ds, DCM_InstanceNumber, std::to_string(k + 1));
    put(ds, DCM_AcquisitionNumber, "1");
    put(ds, DCM_KVP, "120");

    CtImage::IndexType index{{0, 0, static_cast<itk::IndexValueType>(k)}};
    CtImage::PointType origin;
    volumeHu.TransformIndexToPhysicalPoint(index, origin);
    put(ds, DCM_ImagePositionPatient, joinDs({origin[0], origin[1], origin[2]}));
    put(ds, DCM_ImageOrientationPatient,
        joinDs({direction(0, 0), direction(1, 0), direction(2, 0), direction(0, 1), direction(1, 1),
                direction(2, 1)}));
    // Pixel Spacing is row spacing (between rows, along j) first.
    put(ds, DCM_PixelSpacing, joinDs({spacing[1], spacing[0]}));
    put(ds, DCM_SliceThickness, formatDs(spacing[2]));
    const double sliceLocation =
        origin[0] * direction(0, 2) + origin[1] * direction(1, 2) + origin[2] * direction(2, 2);
    put(ds, DCM_SliceLocation, formatDs(sliceLocation));

    put(ds, DCM_SamplesPerPixel, "1");
    put(ds, DCM_PhotometricInterpretation, "MONOCHROME2");
    put(ds, DCM_Rows, std::to_string(size[1]));
    put(ds, DCM_Columns, std::to_string(size[0]));
    ds.putAndInsertUint16(DCM_BitsAllocated, 16);
    ds.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(encoding.bitsStored));
    ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(encoding.bitsStored - 1));
    ds.putAndInsertUint16(DCM_PixelRepresentation, encoding.signedPixels ? 1 : 0);
    put(ds, DCM_RescaleIntercept, formatDs(encoding.rescaleIntercept));
    put(ds, DCM_RescaleSlope, formatDs(encoding.rescaleSlope));
    put(ds, DCM_RescaleType, "HU");
    put(ds, DCM_WindowCenter, "400");
    put(ds, DCM_WindowWidth, "2000");

    const std::int16_t* slice = volumeHu.GetBufferPointer() + k * slicePixels;
    for (std::size_t i = 0; i < slicePixels; ++i) {
      const double value =
          std::nearbyint((slice[i] - encoding.rescaleIntercept) / encoding.rescaleSlope);
      const auto clamped = static_cast<std::int32_t>(std::clamp(value, storedMin, storedMax));
      // Two's complement in 16 bits; bits above BitsStored are sign extension.
      stored[i] = static_cast<Uint16>(clamped & 0xFFFF);
    }
    ds.putAndInsertUint16Array(DCM_PixelData, stored.data(),
                               static_cast<unsigned long>(slicePixels));

    const fs::path path = directory / fmt::format("{}{:04d}.dcm", fileNamePrefix, k + 1);
    save(file, path);
    written.push_back(path);
  }
  return written;
}

fs::path writeDxImage(const RadiographImage& image, const fs::path& file,
                      const PatientModule& patient, const StudyModule& study,
                      const SeriesModule& series, const DxImageSpec& spec) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  if (spec.bitsStored < 8 || spec.bitsStored > 16) {
    throw DicomError("writeDxImage: Bits Stored must be 8..16");
  }
  DcmFileFormat dcm;
  DcmDataset& ds = *dcm.getDataset();
  putCommonModules(ds, patient, study, series, "DX");
  put(ds, DCM_SOPClassUID, UID_DigitalXRayImageStorageForPresentation);
  put(ds, DCM_SOPInstanceUID, spec.sopInstanceUid);
  put(ds, DCM_PresentationIntentType, "FOR PRESENTATION");
  put(ds, DCM_ImageType, "ORIGINAL\\PRIMARY");
  put(ds, DCM_InstanceNumber, std::to_string(spec.instanceNumber));
  put(ds, DCM_ImageLaterality, spec.imageLaterality.empty() ? "U" : spec.imageLaterality);
  put(ds, DCM_ViewPosition, spec.viewPosition);
  // Rows run head to foot (F) on both views; columns run toward the patient's
  // left on AP and toward posterior on a lateral.
  put(ds, DCM_PatientOrientation,
      spec.viewPosition == "AP" || spec.viewPosition == "PA"
          ? (spec.viewPosition == "AP" ? "L\\F" : "R\\F")
          : "P\\F");
  put(ds, DCM_ImagerPixelSpacing, joinDs({spec.imagerPixelSpacingMm, spec.imagerPixelSpacingMm}));
  put(ds, DCM_EstimatedRadiographicMagnificationFactor, formatDs(spec.magnificationFactor));
  put(ds, DCM_DistanceSourceToDetector, formatDs(spec.sourceToDetectorMm));
  put(ds, DCM_DistanceSourceToPatient,
      formatDs(spec.sourceToDetectorMm / spec.magnificationFactor));
  put(ds, DCM_DetectorType, "DIRECT");
  put(ds, DCM_KVP, "60");
  put(ds, DCM_PositionerType, "");
  ds.insertEmptyElement(DCM_AcquisitionContextSequence);
  putCodeItem(ds, DCM_AnatomicRegionSequence, spec.anatomicRegion);
  putCodeItem(ds, DCM_ViewCodeSequence, spec.viewCode);

  put(ds, DCM_SamplesPerPixel, "1");
  put(ds, DCM_PhotometricInterpretation, spec.monochrome1 ? "MONOCHROME1" : "MONOCHROME2");
  put(ds, DCM_Rows, std::to_string(size[1]));
  put(ds, DCM_Columns, std::to_string(size[0]));
  ds.putAndInsertUint16(DCM_BitsAllocated, 16);
  ds.putAndInsertUint16(DCM_BitsStored, static_cast<Uint16>(spec.bitsStored));
  ds.putAndInsertUint16(DCM_HighBit, static_cast<Uint16>(spec.bitsStored - 1));
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  // Higher stored values mean less beam reached the detector for MONOCHROME2
  // (bone bright); MONOCHROME1 stores the inverse.
  put(ds, DCM_PixelIntensityRelationship, "LOG");
  put(ds, DCM_PixelIntensityRelationshipSign, spec.monochrome1 ? "1" : "-1");
  put(ds, DCM_RescaleIntercept, "0");
  put(ds, DCM_RescaleSlope, "1");
  put(ds, DCM_RescaleType, "US");
  put(ds, DCM_PresentationLUTShape, spec.monochrome1 ? "INVERSE" : "IDENTITY");
  put(ds, DCM_LossyImageCompression, "00");
  put(ds, DCM_BurnedInAnnotation, "NO");
  const double maxValue = std::ldexp(1.0, spec.bitsStored) - 1.0;
  put(ds, DCM_WindowCenter, formatDs(std::floor(maxValue / 2)));
  put(ds, DCM_WindowWidth, formatDs(maxValue));

  const std::size_t pixels = size[0] * size[1];
  std::vector<Uint16> stored(pixels);
  const float* values = image.GetBufferPointer();
  for (std::size_t i = 0; i < pixels; ++i) {
    const double attenuation = std::clamp(static_cast<double>(values[i]), 0.0, 1.0);
    const double value = std::nearbyint(attenuation * maxValue);
    stored[i] = static_cast<Uint16>(spec.monochrome1 ? maxValue - value : value);
  }
  ds.putAndInsertUint16Array(DCM_PixelData, stored.data(), static_cast<unsigned long>(pixels));
  save(dcm, file);
  return file;
}

} // namespace unionscope::dicom
