#pragma once
// De-identification of the datasets the export writes (internal to
// pipeline/dicom): PS3.15 Annex E Basic Application Level Confidentiality
// Profile with the Retain Longitudinal Temporal Information with Modified
// Dates Option and the Clean Descriptors Option.

#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/UidFactory.h"

#include <string>
#include <string_view>

class DcmItem;

namespace unionscope::dicom {

/// Applies `how` to `dataset` in place and records it (Patient Identity
/// Removed, De-identification Method and its Code Sequence, Longitudinal
/// Temporal Information Modified). Throws DicomError on failure.
void deidentifyDataset(DcmItem& dataset, const Deidentification& how);

/// One UID as de-identification maps it (`uids` keyed by the secret:
/// UidFactory(UidFactory::seedOf(how.uidSecret))). DICOM's own UIDs (SOP
/// classes, transfer syntaxes, context groups) name kinds of things, not
/// patients: they stay, as does an empty value.
std::string deidentifiedUid(std::string_view uid, const UidFactory& uids);

} // namespace unionscope::dicom
