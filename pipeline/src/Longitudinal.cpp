#include "Longitudinal.h"

#include "DicomOutputs.h"
#include "unionscope/filters/Scores.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/OutputFiles.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <optional>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

/// `v` rounded to a multiple of `unit` (1, 0.1, 0.001, ...), as the double
/// nearest the decimal, so that the files hold "1.402", not "1.4020000000000001".
double roundTo(double v, double unit) {
  const double scale = std::round(1.0 / unit);
  const double r = std::round(v * scale) / scale;
  return r == 0 ? 0.0 : r; // no "-0.0" in the files
}

Json vectorJson(const std::array<double, 3>& v, double unit) {
  return Json::array({roundTo(v[0], unit), roundTo(v[1], unit), roundTo(v[2], unit)});
}

/// The visit's callus volume: its first analysed CT series' (the one whose
/// scores the visit reports).
Json callusVolumeOf(const Json& timepoint) {
  if (timepoint.value("cortices_source", Json(nullptr)) != "CT") {
    return nullptr;
  }
  for (const Json& series : timepoint["series"]) {
    if (series.value("modality", "") == "CT" && series.value("status", "") == "ok" &&
        series.contains("callus_volume_mm3")) {
      return series["callus_volume_mm3"];
    }
  }
  return nullptr;
}

Json difference(const Json& now, const Json& before, double unit) {
  if (!now.is_number() || !before.is_number()) {
    return nullptr;
  }
  if (now.is_number_integer() && before.is_number_integer()) {
    return now.get<long>() - before.get<long>();
  }
  return roundTo(now.get<double>() - before.get<double>(), unit);
}

} // namespace

void registerVisit(Json& timepoint, const RegistrationReference& reference, const CtImage& followUp,
                   const AnalyzeOptions& options, AnalyzeOutcome& outcome) {
  const std::string label = timepoint["label"].get<std::string>();
  Json entry = {{"reference", reference.label},
                {"reference_series_instance_uid", reference.seriesInstanceUid},
                {"status", "failed"},
                {"error", nullptr},
                {"transform_file", nullptr},
                {"transform_sha256", nullptr},
                {"rotation_deg", nullptr},
                {"translation_mm", nullptr},
                {"centre_lps", nullptr},
                {"metric", nullptr},
                {"converged", false}};
  const auto failed = [&](const std::string& reason) {
    entry["error"] = reason;
    timepoint["registration"] = entry;
    ++outcome.registrationsFailed;
    spdlog::warn("visit {}: not registered to {}: {}", label, reference.label, reason);
  };
  RigidRegistrationResult result;
  try {
    result = registerFollowUpRigidly(*reference.volume, followUp, reference.fracture,
                                     options.registration);
  } catch (const std::exception& error) {
    failed(error.what());
    return;
  }
  if (!result.ok) {
    failed(result.failureReason);
    return;
  }
  spdlog::info("visit {}: registered to {} in {:.0f} ms ({} iterations)", label, reference.label,
               result.milliseconds, result.iterations);
  const double metric = roundTo(result.metric, 0.01);
  const fs::path folder = options.outputDirectory / kRegistrationOutputFolder;
  const std::string stem = fileSafe(label);
  const std::string transformRelative = fmt::format("{}/{}.tfm", kRegistrationOutputFolder, stem);
  const std::string detailsRelative = fmt::format("{}/{}.json", kRegistrationOutputFolder, stem);
  // The same transform as a 4x4 matrix in LPS mm, for readers without ITK.
  Json matrix = Json::array();
  for (int r = 0; r < 3; ++r) {
    matrix.push_back(Json::array(
        {roundTo(result.rotation[r * 3 + 0], 1e-9), roundTo(result.rotation[r * 3 + 1], 1e-9),
         roundTo(result.rotation[r * 3 + 2], 1e-9), roundTo(result.translation[r], 1e-6)}));
  }
  matrix.push_back(Json::array({0, 0, 0, 1}));
  Json notes = Json::array();
  for (const std::string& note : result.notes) {
    notes.push_back(note);
  }
  const Json details = {
      {"schema", "unionscope.registration/1"},
      {"reference", reference.label},
      {"follow_up", label},
      {"transform_file", fs::path(transformRelative).filename().string()},
      {"convention", "matrix_lps maps a point of the reference CT (LPS, mm, homogeneous) to the "
                     "same anatomical point in the follow-up CT: y = M x (ITK's fixed-to-moving "
                     "direction; the .tfm holds the same Euler3DTransform)"},
      {"matrix_lps", matrix},
      {"centre_lps", vectorJson(result.centre, 1e-3)},
      {"rotation_deg", roundTo(result.rotationDeg, 1e-3)},
      {"translation_mm", vectorJson(result.centreDisplacementMm, 1e-3)},
      {"metric", metric},
      {"metric_name", "mean squared HU difference on bone away from the fracture"},
      {"converged", result.converged},
      {"bone_voxels", result.maskVoxels},
      {"iterations", result.iterations},
      {"notes", notes},
      {"parameters", registrationParametersJson(options.registration)}};
  std::string transformSha256;
  try {
    fs::create_directories(folder);
    // ITK writes in place; a temporary name (still .tfm, which ITK needs)
    // and a rename keep a half-written file from ever carrying the name.
    const fs::path partial = folder / ("." + stem + ".partial.tfm");
    writeItkTransformFile(result, partial);
    fs::rename(partial, options.outputDirectory / transformRelative);
    transformSha256 = sha256OfFile(options.outputDirectory / transformRelative);
    writeFileAtomically(options.outputDirectory / detailsRelative, details.dump(2) + "\n");
  } catch (const std::exception& error) {
    failed(std::string("transform not written: ") + error.what());
    return;
  }
  outcome.registrationFiles.push_back(options.outputDirectory / transformRelative);
  outcome.registrationFiles.push_back(options.outputDirectory / detailsRelative);
  entry["status"] = "ok";
  entry["transform_file"] = transformRelative;
  entry["transform_sha256"] = transformSha256;
  entry["rotation_deg"] = roundTo(result.rotationDeg, 1e-3);
  entry["translation_mm"] = vectorJson(result.centreDisplacementMm, 1e-3);
  entry["centre_lps"] = vectorJson(result.centre, 1e-3);
  entry["metric"] = metric;
  entry["converged"] = result.converged;
  timepoint["registration"] = entry;
}

Json trajectoriesJson(const Json& timepoints) {
  Json visits = Json::array();
  std::optional<Json> previous;
  for (const Json& tp : timepoints) {
    Json fractions = Json::object();
    for (Cortex cortex : kAllCortices) {
      const std::string key(cortexKey(cortex));
      const bool has = tp.contains("cortices") && tp["cortices"].is_object() &&
                       tp["cortices"].contains(key) &&
                       tp["cortices"][key].contains("bridged_fraction");
      fractions[key] = has ? tp["cortices"][key]["bridged_fraction"] : Json(nullptr);
    }
    Json visit = {{"label", tp["label"]},
                  {"weeks", tp["weeks"]},
                  {"bridged_fraction", fractions},
                  {"callus_volume_mm3", callusVolumeOf(tp)},
                  {"mrust", tp.value("mrust", Json(nullptr))}};
    if (!previous) {
      visit["change_since_previous"] = nullptr;
    } else {
      Json fractionChange = Json::object();
      for (auto& [key, value] : fractions.items()) {
        fractionChange[key] = difference(value, (*previous)["bridged_fraction"][key], 1e-3);
      }
      visit["change_since_previous"] = {
          {"since", (*previous)["label"]},
          {"bridged_fraction", fractionChange},
          {"callus_volume_mm3",
           difference(visit["callus_volume_mm3"], (*previous)["callus_volume_mm3"], 0.1)},
          {"mrust", difference(visit["mrust"], (*previous)["mrust"], 1)}};
    }
    previous = visit;
    visits.push_back(visit);
  }
  return {{"visits", visits}};
}

Json registrationParametersJson(const RigidRegistrationParameters& p) {
  return {{"bone_threshold_hu", p.boneThresholdHu},
          {"metal_threshold_hu", p.metalThresholdHu},
          {"metal_margin_mm", p.metalMarginMm},
          {"fracture_exclusion_half_width_mm", p.fractureExclusionHalfWidthMm},
          {"intensity_floor_hu", p.intensityFloorHu},
          {"intensity_ceiling_hu", p.intensityCeilingHu},
          {"shrink_factors", p.shrinkFactors},
          {"smoothing_sigmas_mm", p.smoothingSigmasMm},
          {"initial_step_mm", p.initialStepMm},
          {"minimum_step_mm", p.minimumStepMm},
          {"maximum_iterations", p.maximumIterations},
          {"working_spacing_mm", p.workingSpacingMm},
          {"maximum_samples_per_level", p.maximumSamplesPerLevel},
          {"random_seed", p.randomSeed},
          {"minimum_mask_voxels", p.minimumMaskVoxels},
          {"maximum_motion_mm", p.maximumMotionMm}};
}

} // namespace unionscope
