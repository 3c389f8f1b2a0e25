#pragma once
// What `unionscope inspect` prints: the outcome of a DICOM scan as a table or
// as JSON. Patient IDs are replaced by P1, P2, ... unless the caller asks for
// them: inspect output ends up in tickets and logs.

#include "unionscope/pipeline/dicom/DicomScan.h"

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace unionscope {

struct InspectOptions {
  bool showPatientIds = false;
};

/// What the ingest will make of one series: a CT volume (size, spacing,
/// corrections, what is left out) or radiographs (view, laterality, spacing
/// and where each came from), or why nothing.
nlohmann::json seriesPlanJson(const dicom::SeriesGroup& series);

nlohmann::json inspectJson(const dicom::ScanResult& scan, const InspectOptions& options = {});
std::string inspectTable(const dicom::ScanResult& scan, const InspectOptions& options = {});

} // namespace unionscope
