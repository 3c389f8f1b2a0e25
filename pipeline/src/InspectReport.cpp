#include "unionscope/pipeline/InspectReport.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace unionscope {
namespace {

std::string patientLabel(const dicom::PatientGroup& patient, std::size_t index,
                         const InspectOptions& options) {
  if (options.showPatientIds) {
    return patient.patientId.empty() ? "(no Patient ID)" : patient.patientId;
  }
  return fmt::format("P{}", index + 1);
}

std::string joinSizes(const std::vector<std::string>& sizes) {
  std::string text;
  for (const std::string& size : sizes) {
    text += (text.empty() ? "" : ", ") + size;
  }
  return text;
}

std::string isoDate(const std::string& da) {
  if (da.size() != 8) {
    return da;
  }
  return da.substr(0, 4) + "-" + da.substr(4, 2) + "-" + da.substr(6, 2);
}

} // namespace

nlohmann::json inspectJson(const dicom::ScanResult& scan, const InspectOptions& options) {
  nlohmann::json patients = nlohmann::json::array();
  std::size_t seriesCount = 0;
  std::size_t fileCount = 0;
  for (std::size_t p = 0; p < scan.patients.size(); ++p) {
    const dicom::PatientGroup& patient = scan.patients[p];
    nlohmann::json studies = nlohmann::json::array();
    for (const dicom::StudyGroup& study : patient.studies) {
      nlohmann::json series = nlohmann::json::array();
      for (const dicom::SeriesGroup& s : study.series) {
        nlohmann::json files = nlohmann::json::array();
        for (const dicom::DicomFileHeader& instance : s.instances) {
          files.push_back(instance.path.string());
        }
        series.push_back({{"series_instance_uid", s.seriesInstanceUid},
                          {"series_number", s.seriesNumber ? nlohmann::json(*s.seriesNumber)
                                                           : nlohmann::json(nullptr)},
                          {"modality", s.modality},
                          {"description", s.description},
                          {"instances", s.instances.size()},
                          {"frames", s.frameCount()},
                          {"dimensions", s.dimensions()},
                          {"source_files", files}});
        ++seriesCount;
        fileCount += s.instances.size();
      }
      studies.push_back({{"study_instance_uid", study.studyInstanceUid},
                         {"study_date", isoDate(study.studyDate)},
                         {"description", study.description},
                         {"series", series}});
    }
    nlohmann::json entry = {{"patient", patientLabel(patient, p, options)}, {"studies", studies}};
    if (options.showPatientIds) {
      entry["patient_id"] = patient.patientId;
    }
    patients.push_back(entry);
  }
  nlohmann::json rejected = nlohmann::json::array();
  for (const dicom::RejectedFile& file : scan.rejected) {
    rejected.push_back({{"path", file.path.string()}, {"reason", file.reason}});
  }
  return {{"files_examined", scan.filesExamined},
          {"files_used", fileCount},
          {"series_count", seriesCount},
          {"patients", patients},
          {"rejected", rejected}};
}

std::string inspectTable(const dicom::ScanResult& scan, const InspectOptions& options) {
  std::string out;
  std::size_t used = 0;
  for (std::size_t p = 0; p < scan.patients.size(); ++p) {
    const dicom::PatientGroup& patient = scan.patients[p];
    out += fmt::format("Patient {}\n", patientLabel(patient, p, options));
    for (const dicom::StudyGroup& study : patient.studies) {
      out += fmt::format("  Study {} {}  {}\n", isoDate(study.studyDate), study.description,
                         study.studyInstanceUid.empty() ? "(no Study Instance UID)"
                                                        : study.studyInstanceUid);
      out += fmt::format("    {:<4} {:>6} {:>6} {:>7}  {:<14} {}\n", "mod", "series", "files",
                         "frames", "size", "description");
      for (const dicom::SeriesGroup& s : study.series) {
        out +=
            fmt::format("    {:<4} {:>6} {:>6} {:>7}  {:<14} {}\n", s.modality,
                        s.seriesNumber ? std::to_string(*s.seriesNumber) : "-", s.instances.size(),
                        s.frameCount(), joinSizes(s.dimensions()), s.description);
        used += s.instances.size();
      }
    }
  }
  out += fmt::format("{} files examined, {} used, {} rejected\n", scan.filesExamined, used,
                     scan.rejected.size());
  for (const dicom::RejectedFile& file : scan.rejected) {
    out += fmt::format("  rejected {}: {}\n", file.path.string(), file.reason);
  }
  return out;
}

} // namespace unionscope
