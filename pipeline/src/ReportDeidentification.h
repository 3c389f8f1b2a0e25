#pragma once
// --deidentify for the files a person reads and shares (report.json, and so
// measurements.csv and report.html, which are built from it): the same
// pseudonym, date shift and UID mapping as the DICOM outputs, so a report
// still points at its de-identified SR and SEG.

#include "unionscope/pipeline/dicom/DicomExport.h"

#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace unionscope {

/// In place: patient_id becomes the pseudonym, every study_date moves by the
/// shift, every *_uid is mapped as in the DICOM outputs, and every input
/// path in source_files becomes "sha256:<hex>" of the file (a path can
/// carry a name; audit.json keeps the path beside the same hash, for the
/// site that holds the key). `sha256ByPath`: the input files' hashes the
/// audit lists (a file not among them is hashed here).
void deidentifyReport(nlohmann::ordered_json& report, const dicom::Deidentification& how,
                      const std::map<std::string, std::string>& sha256ByPath);

} // namespace unionscope
