#include "Deidentify.h"
#include "ExportSupport.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/Version.h"
#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/DicomLibrary.h"
#include "unionscope/pipeline/dicom/ExportCodes.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcuid.h>
#include <dcmtk/dcmsr/cmr/tid1500.h>
#include <dcmtk/dcmsr/codes/dcm.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <fmt/format.h>

#include <memory>

namespace unionscope::dicom {
namespace {

namespace fs = std::filesystem;

DSRCodedEntryValue code(const CodedConcept& concept) {
  return DSRCodedEntryValue(concept.value.c_str(), concept.scheme.c_str(), concept.meaning.c_str());
}

/// Shortest round-trip decimal: what report.json says, digit for digit.
std::string number(double value) {
  return fmt::format("{}", value);
}

/// A free-text name as a PN value: the whole text as the family name
/// component (no '^' or '\\' that would split it), at most 64 characters.
std::string personName(const std::string& text) {
  std::string name;
  for (char c : text) {
    name += (c == '^' || c == '\\' || static_cast<unsigned char>(c) < 0x20) ? ' ' : c;
  }
  return name.substr(0, 64);
}

const CodedConcept& categoryCode(int category) {
  static const std::array<const CodedConcept*, 4> kCodes{&codes::kCategory1, &codes::kCategory2,
                                                         &codes::kCategory3, &codes::kCategory4};
  return *kCodes.at(static_cast<std::size_t>(category - 1));
}

const CodedConcept& cortexModifier(Cortex cortex) {
  switch (cortex) {
  case Cortex::Anterior:
    return codes::kAnterior;
  case Cortex::Posterior:
    return codes::kPosterior;
  case Cortex::Medial:
    return codes::kMedial;
  case Cortex::Lateral:
    break;
  }
  return codes::kLateral;
}

using Group = TID1500_MeasurementReport::TID1501_Measurements;

void addCortexGroup(TID1500_MeasurementReport& report, const MeasurementReportRequest& request,
                    Cortex cortex, const ExportChecker& check) {
  const CortexEntry& entry = request.cortices[static_cast<std::size_t>(cortex)];
  const std::string name = fmt::format("{} {} cortex", request.timepointLabel, cortexKey(cortex));
  check(report.addIndividualMeasurements(), name);
  Group& group = report.getIndividualMeasurements();
  check(group.setTrackingIdentifier(name.c_str()), name);
  check(group.setTrackingUniqueIdentifier(
            fmt::format("{}.{}", request.trackingUidPrefix, static_cast<int>(cortex) + 1).c_str()),
        name);
  check(group.setTimePoint(request.timepointLabel.c_str()), name);
  check(group.setFinding(code(codes::kFracture)), name);
  const CID244e_Laterality laterality =
      request.laterality == "R" || request.laterality == "L"
          ? CID244e_Laterality(OFString(request.laterality.c_str()))
          : CID244e_Laterality();
  check(group.addFindingSite(code(codes::kBone), laterality, code(cortexModifier(cortex))),
        name + " site");
  if (entry.category) {
    check(group.addQualitativeEvaluation(code(codes::kCortexCategory),
                                         code(categoryCode(*entry.category))),
          name + " category");
    check(group.addQualitativeEvaluation(code(codes::kCortexBridged),
                                         code(*entry.category >= 3 ? codes::kYes : codes::kNo)),
          name + " bridged");
  } else {
    check(group.addQualitativeEvaluation(code(codes::kNotAssessable),
                                         OFString(entry.notAssessable.c_str())),
          name + " not assessable");
  }
  // A measurement group needs a measurement (TID 1501 row 10): without a
  // bridged fraction it is there, qualified as "value unknown".
  const Group::MeasurementValue fraction =
      entry.bridgedFraction
          ? Group::MeasurementValue(number(*entry.bridgedFraction).c_str(), CMR_CID7181::NoUnits)
          : Group::MeasurementValue(CMR_CID42::ValueUnknown);
  check(group.addMeasurement(code(codes::kBridgedFraction), fraction), name + " fraction");
  if (!group.isValid()) {
    throw DicomError(
        fmt::format("{}: the measurement group '{}' is not valid", check.file(), name));
  }
}

void addScoreGroup(TID1500_MeasurementReport& report, const MeasurementReportRequest& request,
                   const ExportChecker& check) {
  const std::string name = fmt::format("{} union scores", request.timepointLabel);
  check(report.addIndividualMeasurements(), name);
  Group& group = report.getIndividualMeasurements();
  check(group.setTrackingIdentifier(name.c_str()), name);
  check(group.setTrackingUniqueIdentifier(fmt::format("{}.5", request.trackingUidPrefix).c_str()),
        name);
  check(group.setTimePoint(request.timepointLabel.c_str()), name);
  check(group.setFinding(code(codes::kFracture)), name);
  // A score that cannot be given (a cortex not assessable) is "value unknown".
  const auto score = [](const std::optional<int>& value) {
    return value ? Group::MeasurementValue(std::to_string(*value).c_str(), CMR_CID7181::NoUnits)
                 : Group::MeasurementValue(CMR_CID42::ValueUnknown);
  };
  check(group.addMeasurement(code(codes::kRust), score(request.rust)), name + " RUST");
  check(group.addMeasurement(code(codes::kModifiedRust), score(request.mrust)), name + " mRUST");
  if (request.unionReached) {
    check(group.addQualitativeEvaluation(code(codes::kUnion),
                                         code(*request.unionReached ? codes::kYes : codes::kNo)),
          name + " union");
  } else {
    check(group.addQualitativeEvaluation(code(codes::kUnion),
                                         OFString("not assessable: a cortex has no category")),
          name + " union");
  }
  if (!group.isValid()) {
    throw DicomError(
        fmt::format("{}: the measurement group '{}' is not valid", check.file(), name));
  }
}

/// Callus of one CT series: a volumetric ROI group (TID 1411) that points at
/// the callus segment of the SEG when there is one, else a plain group.
void addCallusGroup(TID1500_MeasurementReport& report, const MeasurementReportRequest& request,
                    const CallusEntry& callus, std::size_t index, const ExportChecker& check) {
  const std::string name =
      fmt::format("{} callus series {}", request.timepointLabel, callus.ctSeriesNumber);
  const std::string trackingUid = fmt::format("{}.{}", request.trackingUidPrefix, 6 + index);
  const auto volume = [&](auto& group) {
    using Value = typename std::remove_reference_t<decltype(group)>::MeasurementValue;
    check(group.addMeasurement(CMR_CID7469::Volume, Value(number(callus.volumeMm3).c_str(),
                                                          CMR_CID7181::CubicMillimeter)),
          name + " volume");
    check(group.addMeasurement(CMR_CID7469::AttenuationCoefficient,
                               Value(number(callus.meanHu).c_str(), CMR_CID7181::HounsfieldUnit)),
          name + " mean HU");
    check(group.getMeasurement().setDerivation(CMR_CID7464::Mean), name + " mean HU");
  };
  if (!callus.segSopInstanceUid.empty()) {
    check(report.addVolumetricROIMeasurements(), name);
    auto& group = report.getVolumetricROIMeasurements();
    check(group.setTrackingIdentifier(name.c_str()), name);
    check(group.setTrackingUniqueIdentifier(trackingUid.c_str()), name);
    check(group.setTimePoint(request.timepointLabel.c_str()), name);
    check(group.setFinding(code(codes::kCallusFinding)), name);
    DSRImageReferenceValue segment(UID_SegmentationStorage, callus.segSopInstanceUid.c_str());
    segment.getSegmentList().addItem(kSegmentCallus);
    check(group.setReferencedSegment(segment), name + " segment");
    check(group.setSourceSeriesForSegmentation(callus.ctSeriesInstanceUid.c_str()),
          name + " source series");
    volume(group);
  } else {
    check(report.addIndividualMeasurements(), name);
    Group& group = report.getIndividualMeasurements();
    check(group.setTrackingIdentifier(name.c_str()), name);
    check(group.setTrackingUniqueIdentifier(trackingUid.c_str()), name);
    check(group.setTimePoint(request.timepointLabel.c_str()), name);
    check(group.setFinding(code(codes::kCallusFinding)), name);
    volume(group);
  }
}

/// Patient and Study modules (and the clinical trial attributes) of the
/// source study, copied as they are: the report belongs to that study.
void copyStudyAttributes(DcmItem& from, DcmItem& to) {
  static const DcmTagKey kTags[] = {DCM_SpecificCharacterSet,
                                    DCM_PatientName,
                                    DCM_PatientID,
                                    DCM_PatientBirthDate,
                                    DCM_PatientSex,
                                    DCM_StudyInstanceUID,
                                    DCM_StudyDate,
                                    DCM_StudyTime,
                                    DCM_ReferringPhysicianName,
                                    DCM_StudyID,
                                    DCM_AccessionNumber,
                                    DCM_StudyDescription,
                                    DCM_ClinicalTrialSponsorName,
                                    DCM_ClinicalTrialProtocolID,
                                    DCM_ClinicalTrialProtocolName,
                                    DCM_ClinicalTrialSiteID,
                                    DCM_ClinicalTrialSiteName,
                                    DCM_ClinicalTrialSubjectID,
                                    DCM_ClinicalTrialSubjectReadingID,
                                    DCM_ClinicalTrialTimePointID,
                                    DCM_ClinicalTrialTimePointDescription};
  for (const DcmTagKey& tag : kTags) {
    to.findAndDeleteElement(tag);
    DcmElement* element = nullptr;
    if (from.findAndGetElement(tag, element).good() && element != nullptr) {
      std::unique_ptr<DcmObject> copy(element->clone());
      if (to.insert(static_cast<DcmElement*>(copy.get()), OFTrue).good()) {
        copy.release(); // the dataset owns it now
      }
    }
  }
}

} // namespace

void writeMeasurementReport(const MeasurementReportRequest& request, const fs::path& file) {
  prepareDicomToolkitForConcurrentUse(); // a batch writes several reports at once
  const ExportChecker check(file, "measurement report");
  std::unique_ptr<DcmFileFormat> basedOn;
  if (request.sourceImages.empty()) {
    if (request.basedOnReport.empty()) {
      throw DicomError(fmt::format("{}: no source images to report on", file.string()));
    }
    basedOn = loadSourceHeader(request.basedOnReport);
  }
  TID1500_MeasurementReport report(CMR_CID7021::ImagingMeasurementReport);
  check(report.setLanguage(CID5000_Languages::English), "language");
  if (request.personObserver) {
    check(report.getObservationContext().addPersonObserver(
              personName(request.personObserver->name).c_str(),
              request.personObserver->organization.c_str()),
          "person observer");
  } else {
    check(report.getObservationContext().addDeviceObserver(
              request.deviceObserverUid.c_str(), kSoftwareName, "UnionScope",
              fmt::format("{} {}", kSoftwareName, kVersion).c_str()),
          "device observer");
  }
  check(report.addProcedureReported(CMR_CID100::CTUnspecifiedBodyRegion), "procedure");

  // Image library: every image measured, with the common descriptors once.
  std::vector<std::unique_ptr<DcmFileFormat>> headers;
  for (const DicomFileHeader& image : request.sourceImages) {
    headers.push_back(loadSourceHeader(image.path));
  }
  TID1600_ImageLibrary& library = report.getImageLibrary();
  check(library.createNewImageLibrary(), "image library");
  if (!headers.empty()) {
    check(library.addImageGroup(), "image library");
    for (const auto& header : headers) {
      check(library.addImageEntry(*header->getDataset(), TID1600_ImageLibrary::withoutDescriptors),
            "image library entry");
    }
    // Descriptors that hold for every image of the group (not the position
    // of the first one).
    TID1600_ImageLibrary::ConceptNameList common;
    for (const DSRBasicCodedEntry& concept :
         {CODE_DCM_Modality, CODE_DCM_TargetRegion, CODE_DCM_StudyDate, CODE_DCM_StudyTime,
          CODE_DCM_FrameOfReferenceUID, CODE_DCM_PixelDataRows, CODE_DCM_PixelDataColumns,
          CODE_DCM_HorizontalPixelSpacing, CODE_DCM_VerticalPixelSpacing,
          CODE_DCM_SliceThickness}) {
      common.push_back(concept);
    }
    const OFCondition descriptors = library.addImageGroupDescriptors(
        *headers.front()->getDataset(), TID1600_ImageLibrary::withSelectedDescriptors, common);
    if (descriptors != CMR_EC_NoImageLibraryEntryDescriptorsToBeAdded) {
      check(descriptors, "image library descriptors");
    }
  }

  for (Cortex cortex : kAllCortices) {
    addCortexGroup(report, request, cortex, check);
  }
  addScoreGroup(report, request, check);
  for (std::size_t i = 0; i < request.callus.size(); ++i) {
    addCallusGroup(report, request, request.callus[i], i, check);
  }
  if (!report.isValid()) {
    throw DicomError(fmt::format("{}: the TID 1500 tree is not valid", file.string()));
  }

  DSRDocument document;
  check(document.setTreeFromRootTemplate(report, OFTrue /*expandTree*/), "document tree");
  check(document.setManufacturer("UnionScope"), "manufacturer");
  check(document.setManufacturerModelName(kSoftwareName), "model name");
  check(document.setSoftwareVersions(kVersion), "software versions");
  check(document.setSeriesNumber(std::to_string(request.seriesNumber).c_str()), "series number");
  check(document.setInstanceNumber("1"), "instance number");
  check(document.setSeriesDescription(
            (request.seriesDescription.empty()
                 ? fmt::format("UnionScope measurements {}", request.timepointLabel)
                 : request.seriesDescription)
                .c_str()),
        "series description");
  // Evidence: every image and SEG the tree references; for a report based on
  // another, that report and its own evidence.
  DcmDataset& source = headers.empty() ? *basedOn->getDataset() : *headers.front()->getDataset();
  OFString studyUid;
  source.findAndGetOFString(DCM_StudyInstanceUID, studyUid);
  DSRSOPInstanceReferenceList& evidence = document.getCurrentRequestedProcedureEvidence();
  for (const auto& header : headers) {
    check(evidence.addItem(*header->getDataset()), "evidence");
  }
  if (basedOn) {
    check(evidence.read(source, 0), "evidence of the report read");
    check(evidence.addItem(source), "the report read");
  }
  for (const CallusEntry& callus : request.callus) {
    if (!callus.segSopInstanceUid.empty()) {
      check(evidence.addItem(studyUid, callus.segSeriesInstanceUid.c_str(), UID_SegmentationStorage,
                             callus.segSopInstanceUid.c_str()),
            "SEG evidence");
    }
  }
  if (request.personObserver) {
    // Completed by the reader; verified (signed) by them when their
    // organization is known: Verifying Organization (0040,A027) is type 1.
    check(document.completeDocument(), "completion");
    if (!request.personObserver->organization.empty()) {
      check(document.verifyDocument(personName(request.personObserver->name).c_str(),
                                    request.personObserver->organization.c_str(),
                                    request.personObserver->dateTime.c_str()),
            "verification");
    }
  }

  DcmFileFormat out;
  DcmDataset& dataset = *out.getDataset();
  check(document.write(dataset), "dataset");
  copyStudyAttributes(source, dataset);
  // Deterministic identity and dates: UIDs from the caller; dates of the
  // source study (the content is a statement about that study), or for a
  // person's read the time it was signed.
  SourceDates dates = sourceDates(source);
  if (request.personObserver) {
    dates.date = request.personObserver->dateTime.substr(0, 8).c_str();
    dates.time = request.personObserver->dateTime.substr(8).c_str();
  }
  check(dataset.putAndInsertString(DCM_SeriesInstanceUID, request.seriesInstanceUid.c_str()),
        "series UID");
  check(dataset.putAndInsertString(DCM_SOPInstanceUID, request.sopInstanceUid.c_str()), "SOP UID");
  for (const auto& [tag, value] :
       {std::pair{DCM_InstanceCreationDate, dates.date},
        std::pair{DCM_InstanceCreationTime, dates.time}, std::pair{DCM_ContentDate, dates.date},
        std::pair{DCM_ContentTime, dates.time}, std::pair{DCM_SeriesDate, dates.date},
        std::pair{DCM_SeriesTime, dates.time}}) {
    check(dataset.putAndInsertOFStringArray(tag, value), DcmTag(tag).getTagName());
  }
  if (request.deidentification) {
    deidentifyDataset(dataset, *request.deidentification);
  }
  check(saveExport(out, file), "save");
}

} // namespace unionscope::dicom
