#include "Deidentify.h"

#include "unionscope/pipeline/Dates.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/dicom/UidFactory.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcelem.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <fmt/format.h>

#include <vector>

namespace unionscope::dicom {
namespace {

/// PS3.15 Table E.1-1 actions for the attributes the export can carry (the
/// Patient, Study and Equipment modules copied from the source).
const DcmTagKey kReplaceWithPseudonym[] = {
    DCM_PatientName, DCM_PatientID, DCM_ClinicalTrialSubjectID, DCM_ClinicalTrialSubjectReadingID};
const DcmTagKey kEmpty[] = {DCM_PatientBirthDate, DCM_PatientSex, DCM_ReferringPhysicianName,
                            DCM_AccessionNumber, DCM_StudyID};
const DcmTagKey kRemove[] = {DCM_IssuerOfPatientID,
                             DCM_PatientBirthTime,
                             DCM_RETIRED_OtherPatientIDs,
                             DCM_OtherPatientNames,
                             DCM_OtherPatientIDsSequence,
                             DCM_PatientAge,
                             DCM_PatientSize,
                             DCM_PatientWeight,
                             DCM_PatientAddress,
                             DCM_EthnicGroup,
                             DCM_PatientComments,
                             DCM_StudyDescription,
                             DCM_InstitutionName,
                             DCM_InstitutionAddress,
                             DCM_InstitutionalDepartmentName,
                             DCM_OperatorsName,
                             DCM_PerformingPhysicianName,
                             DCM_NameOfPhysiciansReadingStudy,
                             DCM_RequestingPhysician,
                             DCM_StationName};

class Deidentifier {
public:
  explicit Deidentifier(const Deidentification& how)
      : how_(how), uids_(UidFactory::seedOf(how.uidSecret)) {}

  /// Dates shifted, UIDs remapped and private attributes removed at every
  /// depth (the SR content tree carries dates and UIDs of its own).
  void walk(DcmItem& item) const {
    std::vector<DcmTagKey> privateTags;
    for (DcmObject* object = item.nextInContainer(nullptr); object != nullptr;
         object = item.nextInContainer(object)) {
      const DcmTag& tag = object->getTag();
      if (tag.isPrivate()) {
        privateTags.push_back(tag);
        continue;
      }
      if (object->ident() == EVR_SQ) {
        auto* sequence = static_cast<DcmSequenceOfItems*>(object);
        for (unsigned long i = 0; i < sequence->card(); ++i) {
          walk(*sequence->getItem(i));
        }
        continue;
      }
      auto* element = static_cast<DcmElement*>(object);
      const DcmEVR vr = object->ident();
      if (vr == EVR_DA || vr == EVR_DT || vr == EVR_UI) {
        OFString value;
        if (element->getOFStringArray(value).good() && !value.empty()) {
          const std::string changed =
              vr == EVR_UI ? mapUids(value.c_str()) : shiftDates(value.c_str(), vr == EVR_DT);
          check(element->putOFStringArray(changed.c_str()), tag);
        }
      }
    }
    for (const DcmTagKey& tag : privateTags) {
      item.findAndDeleteElement(tag);
    }
  }

  void replaceIdentity(DcmItem& dataset) const {
    for (const DcmTagKey& tag : kReplaceWithPseudonym) {
      if (tag == DCM_PatientName || tag == DCM_PatientID || dataset.tagExists(tag)) {
        check(dataset.putAndInsertString(tag, how_.pseudonym.c_str()), tag);
      }
    }
    for (const DcmTagKey& tag : kEmpty) {
      check(dataset.putAndInsertString(tag, ""), tag);
    }
    for (const DcmTagKey& tag : kRemove) {
      dataset.findAndDeleteElement(tag, OFTrue /*allOccurrences*/, OFTrue /*searchIntoSub*/);
    }
  }

private:
  static void check(const OFCondition& status, const DcmTagKey& tag) {
    if (status.bad()) {
      throw DicomError(fmt::format("de-identification: cannot change {}: {}",
                                   DcmTag(tag).getTagName(), status.text()));
    }
  }

  /// Each value of a multi-valued UI element (see deidentifiedUid).
  [[nodiscard]] std::string mapUids(const std::string& values) const {
    std::string out;
    std::size_t start = 0;
    while (start <= values.size()) {
      const std::size_t end = std::min(values.find('\\', start), values.size());
      out += (start == 0 ? "" : "\\") +
             deidentifiedUid(std::string_view(values).substr(start, end - start), uids_);
      start = end + 1;
    }
    return out;
  }

  [[nodiscard]] std::string shiftDates(const std::string& values, bool dateTime) const {
    std::string out;
    std::size_t start = 0;
    while (start <= values.size()) {
      const std::size_t end = std::min(values.find('\\', start), values.size());
      std::string value = values.substr(start, end - start);
      const std::optional<long> days =
          value.size() >= 8 ? daysSinceEpoch(std::string_view(value).substr(0, 8)) : std::nullopt;
      if (days) {
        value = dicomDate(*days + how_.dateShiftDays) + (dateTime ? value.substr(8) : "");
      } else if (!value.empty()) {
        value.clear(); // a date that cannot be shifted cannot be kept
      }
      out += (start == 0 ? "" : "\\") + value;
      start = end + 1;
    }
    return out;
  }

  const Deidentification& how_;
  UidFactory uids_;
};

void addMethodCode(DcmItem& dataset, const char* value, const char* meaning) {
  DcmItem* item = nullptr;
  if (dataset.findOrCreateSequenceItem(DCM_DeidentificationMethodCodeSequence, item, -2).bad() ||
      item == nullptr) {
    throw DicomError("de-identification: cannot record the method");
  }
  item->putAndInsertString(DCM_CodeValue, value);
  item->putAndInsertString(DCM_CodingSchemeDesignator, "DCM");
  item->putAndInsertString(DCM_CodeMeaning, meaning);
}

} // namespace

std::string deidentifiedUid(std::string_view uid, const UidFactory& uids) {
  if (uid.empty() || uid.rfind("1.2.840.10008.", 0) == 0) {
    return std::string(uid);
  }
  return uids.uid(uid);
}

void deidentifyDataset(DcmItem& dataset, const Deidentification& how) {
  if (how.pseudonym.empty()) {
    throw DicomError("de-identification needs a pseudonym");
  }
  const Deidentifier deidentifier(how);
  deidentifier.replaceIdentity(dataset);
  deidentifier.walk(dataset);
  dataset.putAndInsertString(DCM_PatientIdentityRemoved, "YES");
  dataset.putAndInsertString(DCM_DeidentificationMethod, kDeidentificationMethod);
  dataset.findAndDeleteElement(DCM_DeidentificationMethodCodeSequence);
  addMethodCode(dataset, "113100", "Basic Application Confidentiality Profile");
  addMethodCode(dataset, "113107",
                "Retain Longitudinal Temporal Information Modified Dates Option");
  addMethodCode(dataset, "113105", "Clean Descriptors Option");
  dataset.putAndInsertString(DCM_LongitudinalTemporalInformationModified, "MODIFIED");
}

} // namespace unionscope::dicom
