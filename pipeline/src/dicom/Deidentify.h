#pragma once
// De-identification of the datasets the export writes (internal to
// pipeline/dicom): PS3.15 Annex E Basic Application Level Confidentiality
// Profile with the Retain Longitudinal Temporal Information with Modified
// Dates Option and the Clean Descriptors Option.

#include "unionscope/pipeline/dicom/DicomExport.h"

class DcmItem;

namespace unionscope::dicom {

/// Applies `how` to `dataset` in place and records it (Patient Identity
/// Removed, De-identification Method and its Code Sequence, Longitudinal
/// Temporal Information Modified). Throws DicomError on failure.
void deidentifyDataset(DcmItem& dataset, const Deidentification& how);

} // namespace unionscope::dicom
