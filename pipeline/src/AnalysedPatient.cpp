#include "unionscope/pipeline/AnalysedPatient.h"

#include "JsonFile.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Errors.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

std::optional<double> number(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_number()
             ? std::optional(object[key].get<double>())
             : std::nullopt;
}

std::optional<int> integer(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_number_integer()
             ? std::optional(object[key].get<int>())
             : std::nullopt;
}

std::string text(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) && object[key].is_string()
             ? object[key].get<std::string>()
             : std::string();
}

std::array<double, 3> vector3(const Json& value, std::array<double, 3> fallback) {
  if (!value.is_array() || value.size() != 3) {
    return fallback;
  }
  for (std::size_t i = 0; i < 3; ++i) {
    if (!value[i].is_number()) {
      return fallback;
    }
    fallback[i] = value[i].get<double>();
  }
  return fallback;
}

/// A file named relative to DIR, or empty when the entry has none.
fs::path inDirectory(const fs::path& directory, const Json& object, const char* key) {
  const std::string relative = text(object, key);
  return relative.empty() ? fs::path() : directory / relative;
}

void readVisitSeries(const fs::path& directory, const Json& series, AnalysedVisit& visit) {
  for (const Json& s : series) {
    if (!s.is_object() || text(s, "status") != "ok") {
      continue;
    }
    const std::string modality = text(s, "modality");
    if (modality == "CT" && visit.ctSeriesInstanceUid.empty()) {
      visit.ctSeriesInstanceUid = text(s, "series_instance_uid");
      visit.callusVolumeMm3 = number(s, "callus_volume_mm3");
      visit.callusMeanHu = number(s, "callus_mean_hu");
      if (s.contains("fracture") && s["fracture"].is_object()) {
        const Json& fracture = s["fracture"];
        visit.fractureFound = fracture.value("found", false);
        visit.fractureCentre = vector3(fracture.value("center_lps", Json()), visit.fractureCentre);
        visit.fractureNormal = vector3(fracture.value("normal_lps", Json()), visit.fractureNormal);
        visit.shaftAxis = vector3(fracture.value("shaft_axis_lps", Json()), visit.shaftAxis);
      }
      visit.labelMapFile = inDirectory(directory, s, "label_map_file");
      visit.ctFile = inDirectory(directory, s, "ct_file");
    } else if (modality == "CR" || modality == "DX") {
      const std::string image = text(s, "explanation_image");
      if (!image.empty()) {
        visit.radiographs.push_back({text(s, "view"), directory / "images" / image});
      }
    }
  }
}

} // namespace

Matrix4 readRegistrationToReference(const fs::path& file) {
  const Json json = readJsonFile(file);
  const Json& m = json.contains("matrix_lps") ? json["matrix_lps"] : Json();
  if (!m.is_array() || m.size() != 4) {
    throw std::runtime_error(fmt::format("{}: no 4x4 \"matrix_lps\"", file.string()));
  }
  std::array<std::array<double, 4>, 4> a{};
  for (std::size_t r = 0; r < 4; ++r) {
    if (!m[r].is_array() || m[r].size() != 4) {
      throw std::runtime_error(fmt::format("{}: no 4x4 \"matrix_lps\"", file.string()));
    }
    for (std::size_t c = 0; c < 4; ++c) {
      a[r][c] = m[r][c].get<double>();
    }
  }
  // Rigid: the inverse of [R t] is [R^T, -R^T t].
  Matrix4 inverse = kIdentity4;
  for (std::size_t r = 0; r < 3; ++r) {
    double translation = 0;
    for (std::size_t c = 0; c < 3; ++c) {
      inverse[r * 4 + c] = a[c][r];
      translation -= a[c][r] * a[c][3];
    }
    inverse[r * 4 + 3] = translation;
  }
  return inverse;
}

AnalysedPatient loadAnalysedPatient(const fs::path& directory) {
  if (!fs::is_directory(directory)) {
    throw UsageError(fmt::format("{}: no such folder", directory.string()));
  }
  const fs::path reportFile = directory / "report.json";
  if (!fs::is_regular_file(reportFile)) {
    throw UsageError(fmt::format("{}: not found (is {} the --out folder of 'unionscope analyze'?)",
                                 reportFile.string(), directory.string()));
  }
  const Json report = readJsonFile(reportFile);
  if (!report.is_object() || text(report, "schema") != "unionscope.report/1" ||
      !report.contains("timepoints") || !report["timepoints"].is_array()) {
    throw UsageError(
        fmt::format("{}: not a unionscope.report/1 report with timepoints", reportFile.string()));
  }
  AnalysedPatient patient;
  patient.directory = directory;
  patient.laterality = text(report, "laterality").empty() ? "unknown" : text(report, "laterality");
  patient.reportSha256 = sha256OfFile(reportFile);
  for (const Json& tp : report["timepoints"]) {
    AnalysedVisit visit;
    visit.label = text(tp, "label");
    visit.weeks = number(tp, "weeks");
    visit.studyInstanceUid = text(tp, "study_instance_uid");
    const Json cortices = tp.value("cortices", Json());
    visit.scored = cortices.is_object();
    for (Cortex cortex : kAllCortices) {
      CortexCall& call = visit.cortices[static_cast<std::size_t>(cortex)];
      const Json c = visit.scored ? cortices.value(std::string(cortexKey(cortex)), Json()) : Json();
      call.category = integer(c, "category");
      call.notAssessable = call.category ? std::string() : text(c, "not_assessable");
      call.bridgedFraction = number(c, "bridged_fraction");
      if (!call.category && call.notAssessable.empty()) {
        call.notAssessable = "not scored";
      }
    }
    visit.rust = integer(tp, "rust");
    visit.mrust = integer(tp, "mrust");
    if (tp.contains("union") && tp["union"].is_boolean()) {
      visit.unionReached = tp["union"].get<bool>();
    }
    visit.srFile = inDirectory(directory, tp, "sr_file");
    readVisitSeries(directory, tp.value("series", Json::array()), visit);
    // Registration (optional): apply it when there is one, else identity.
    // analyze names ITK's .tfm; the 4x4 matrix is in the .json beside it.
    const Json registration = tp.value("registration", Json());
    fs::path transform = inDirectory(directory, registration, "transform_file");
    const bool ok = !registration.is_object() || !registration.contains("status") ||
                    text(registration, "status") == "ok";
    if (ok && !transform.empty()) {
      if (transform.extension() != ".json") {
        transform.replace_extension(".json");
      }
      visit.toReference = readRegistrationToReference(transform);
      visit.registeredTo = text(registration, "reference");
    }
    patient.visits.push_back(visit);
  }
  return patient;
}

} // namespace unionscope
