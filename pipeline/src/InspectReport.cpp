#include "unionscope/pipeline/InspectReport.h"

#include "unionscope/pipeline/Dates.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

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

} // namespace

nlohmann::json seriesPlanJson(const dicom::SeriesGroup& series) {
  const bool allLocalizers =
      std::all_of(series.instances.begin(), series.instances.end(),
                  [](const dicom::DicomFileHeader& h) { return h.isLocalizer(); });
  if (series.modality == "CT" && !allLocalizers) {
    const dicom::CtVolumePlan plan = dicom::planCtVolume(series);
    nlohmann::json json = {{"kind", "ct_volume"},
                           {"status", plan.ok() ? "ok" : "rejected"},
                           {"notes", plan.notes},
                           {"ignored", plan.ignored}};
    if (plan.ok()) {
      json["size"] = {plan.columns, plan.rows, plan.outputSlices};
      json["spacing_mm"] = {plan.columnSpacing, plan.rowSpacing, plan.sliceSpacing};
      json["gantry_tilt_deg"] = plan.gantryTiltDeg;
      json["resampled"] = plan.resampled;
    } else {
      json["reason"] = plan.rejectReason;
    }
    return json;
  }
  if (series.modality == "CR" || series.modality == "DX" || series.modality == "RG" ||
      series.modality == "CT") {
    nlohmann::json images = nlohmann::json::array();
    for (const dicom::DicomFileHeader& h : series.instances) {
      const dicom::RadiographPlan plan = dicom::planRadiograph(h);
      nlohmann::json image = {{"file", h.path.string()}, {"status", plan.ok() ? "ok" : "rejected"}};
      if (plan.ok()) {
        image.update(
            {{"view", plan.view},
             {"view_source", plan.viewSource},
             {"laterality", plan.laterality},
             {"pixel_spacing_mm", plan.pixelSpacingMm > 0 ? nlohmann::json(plan.pixelSpacingMm)
                                                          : nlohmann::json(nullptr)},
             {"spacing_source", plan.spacingSource},
             {"photometric", plan.monochrome1 ? "MONOCHROME1 (inverted)" : "MONOCHROME2"}});
      } else {
        image["reason"] = plan.rejectReason;
      }
      images.push_back(image);
    }
    return {{"kind", "radiographs"}, {"status", "ok"}, {"images", images}};
  }
  return {{"kind", "none"},
          {"status", "not analysed"},
          {"reason", fmt::format("modality {} is not used for union scoring",
                                 series.modality.empty() ? "(none)" : series.modality)}};
}

std::string seriesPlanLine(const nlohmann::json& plan) {
  if (plan["kind"] == "ct_volume") {
    if (plan["status"] != "ok") {
      return "no volume: " + plan["reason"].get<std::string>();
    }
    std::string line = fmt::format(
        "volume {}x{}x{} at {:.3g}x{:.3g}x{:.3g} mm", plan["size"][0].get<int>(),
        plan["size"][1].get<int>(), plan["size"][2].get<int>(), plan["spacing_mm"][0].get<double>(),
        plan["spacing_mm"][1].get<double>(), plan["spacing_mm"][2].get<double>());
    for (const auto& note : plan["notes"]) {
      line += "; " + note.get<std::string>();
    }
    for (const auto& ignored : plan["ignored"]) {
      line += "; left out " + ignored.get<std::string>();
    }
    return line;
  }
  if (plan["kind"] == "radiographs") {
    std::string line;
    for (const auto& image : plan["images"]) {
      line += line.empty() ? "" : "; ";
      if (image["status"] != "ok") {
        line += "not usable: " + image["reason"].get<std::string>();
        continue;
      }
      line += fmt::format(
          "radiograph view {} ({}), laterality {}, spacing {}", image["view"].get<std::string>(),
          image["view_source"].get<std::string>().empty() ? "no source"
                                                          : image["view_source"].get<std::string>(),
          image["laterality"].get<std::string>(),
          image["pixel_spacing_mm"].is_null()
              ? std::string("unknown")
              : fmt::format("{:.3g} mm ({})", image["pixel_spacing_mm"].get<double>(),
                            image["spacing_source"].get<std::string>()));
    }
    return line;
  }
  return plan["reason"].get<std::string>();
}

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
                          {"plan", seriesPlanJson(s)},
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
  nlohmann::json dicomdirs = nlohmann::json::array();
  for (const dicom::DicomdirIndex& index : scan.dicomdirs) {
    dicomdirs.push_back({{"path", index.path.string()}, {"listed_files", index.listedFiles}});
  }
  return {
      {"files_examined", scan.filesExamined}, {"dicomdirs", dicomdirs}, {"files_used", fileCount},
      {"series_count", seriesCount},          {"patients", patients},   {"rejected", rejected}};
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
        out += fmt::format("         -> {}\n", seriesPlanLine(seriesPlanJson(s)));
        used += s.instances.size();
      }
    }
  }
  for (const dicom::DicomdirIndex& index : scan.dicomdirs) {
    out += fmt::format("DICOMDIR {} lists {} files (read with the others)\n", index.path.string(),
                       index.listedFiles);
  }
  if (!scan.plainImages.empty()) {
    out += fmt::format(
        "{} plain image file(s) (PNG/JPEG/TIFF): radiographs with unknown spacing, patient and "
        "date\n",
        scan.plainImages.size());
  }
  out += fmt::format("{} files examined, {} used, {} rejected\n", scan.filesExamined,
                     used + scan.plainImages.size(), scan.rejected.size());
  for (const dicom::RejectedFile& file : scan.rejected) {
    out += fmt::format("  rejected {}: {}\n", file.path.string(), file.reason);
  }
  return out;
}

} // namespace unionscope
