#include "unionscope/pipeline/Analyze.h"

#include "DicomOutputs.h"
#include "Longitudinal.h"
#include "ReportDeidentification.h"
#include "StaleOutputs.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Dates.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/HtmlReport.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/RadiographOverlay.h"
#include "unionscope/pipeline/ResultVolumes.h"
#include "unionscope/pipeline/Version.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <oneapi/tbb/parallel_for.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>

namespace unionscope {
namespace {

/// Names unique within one analysis: the first claim of a name gets it, the
/// next ones get _2, _3, ... in the order they are analysed. Two visits in
/// the same week, or two series of a visit with the same number, must not
/// write over each other's files.
class UniqueNames {
public:
  std::string claim(const std::string& name) {
    std::string unique = name;
    for (int n = 2; !used_.insert(unique).second; ++n) {
      unique = fmt::format("{}_{}", name, n);
    }
    return unique;
  }

private:
  std::set<std::string> used_;
};

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

double round3(double v) {
  return std::round(v * 1000.0) / 1000.0;
}

Json vectorJson(const std::array<double, 3>& v) {
  return Json::array({round3(v[0]), round3(v[1]), round3(v[2])});
}

Json cortexJson(const CortexScore& score, std::optional<double> confidence = std::nullopt) {
  Json json = Json::object();
  if (score.category) {
    json["category"] = static_cast<int>(*score.category);
    json["bridged"] = score.bridged();
  } else {
    json["category"] = nullptr;
    json["not_assessable"] = score.notAssessable;
  }
  if (score.bridgedFraction) {
    json["bridged_fraction"] = round3(*score.bridgedFraction);
  }
  if (confidence && score.category) {
    json["confidence"] = round3(*confidence);
  }
  return json;
}

Json corticesJson(const CortexScores& scores) {
  Json json = Json::object();
  for (Cortex cortex : kAllCortices) {
    json[std::string(cortexKey(cortex))] = cortexJson(scores[static_cast<std::size_t>(cortex)]);
  }
  return json;
}

Laterality lateralityOf(const dicom::SeriesGroup& series) {
  for (const dicom::DicomFileHeader& h : series.instances) {
    if (h.laterality == "R") {
      return Laterality::Right;
    }
    if (h.laterality == "L") {
      return Laterality::Left;
    }
  }
  return Laterality::Unknown;
}

/// The unrolled cortex around the fracture, coloured by density, with the
/// fitted fracture line and a strip per angle bin: green bridged, red not,
/// grey not assessable. Sector letters mark the cortices.
void writeUnrolledMap(const UnrolledCortexMap& map, const fs::path& png) {
  if (map.rows == 0 || map.columns == 0) {
    return;
  }
  constexpr int kCell = 8;
  constexpr int kStrip = 14;
  cv::Mat grey(map.rows, map.columns, CV_8UC1);
  for (int r = 0; r < map.rows; ++r) {
    for (int c = 0; c < map.columns; ++c) {
      const double hu = map.peakHu[static_cast<std::size_t>(r) * map.columns + c];
      // Rows run proximal (top) to distal (bottom).
      grey.at<unsigned char>(map.rows - 1 - r, c) =
          static_cast<unsigned char>(std::clamp((hu + 200.0) / 2000.0, 0.0, 1.0) * 255.0);
    }
  }
  cv::Mat coloured;
  cv::applyColorMap(grey, coloured, cv::COLORMAP_BONE);
  cv::Mat big;
  cv::resize(coloured, big, cv::Size(map.columns * kCell, map.rows * 3), 0, 0, cv::INTER_NEAREST);
  for (int c = 0; c + 1 < map.columns; ++c) {
    const auto y = [&](int column) {
      return static_cast<int>(
          std::lround((map.rows - 1 - map.fractureRow[static_cast<std::size_t>(column)]) * 3));
    };
    cv::line(big, {c * kCell + kCell / 2, y(c)}, {(c + 1) * kCell + kCell / 2, y(c + 1)},
             cv::Scalar(0, 200, 255), 1, cv::LINE_AA);
  }
  cv::Mat strip(kStrip, big.cols, CV_8UC3, cv::Scalar(40, 40, 40));
  for (int c = 0; c < map.columns; ++c) {
    const signed char state = map.bridgedColumns[static_cast<std::size_t>(c)];
    const cv::Scalar colour = state > 0    ? cv::Scalar(60, 190, 60)
                              : state == 0 ? cv::Scalar(40, 40, 210)
                                           : cv::Scalar(128, 128, 128);
    cv::rectangle(strip, {c * kCell, 0}, {(c + 1) * kCell - 2, kStrip - 1}, colour, cv::FILLED);
  }
  const char* letters[4] = {"A", "P", "M", "L"};
  for (std::size_t s = 0; s < 4; ++s) {
    const int x = static_cast<int>(map.sectorCentreColumn[s] * kCell);
    cv::putText(strip, letters[s], {std::clamp(x - 4, 0, big.cols - 10), kStrip - 3},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(255, 255, 255), 1, cv::LINE_AA);
  }
  cv::Mat out;
  cv::vconcat(strip, big, out);
  fs::create_directories(png.parent_path());
  cv::imwrite(png.string(), out);
}

struct SeriesReport {
  Json json;
  bool ok = false;
  std::optional<CortexScores> cortices; ///< CT series that produced scores
  /// For the visit's SR: the images measured and the callus (with its SEG).
  std::vector<dicom::DicomFileHeader> images;
  std::optional<dicom::CallusEntry> callus;
  bool exportFailed = false;
  /// An analysed CT: its volume and fracture plane, for the registration.
  CtImage::Pointer volume;
  std::optional<FracturePlane> fracture;
};

/// The SEG of an analysed CT series. A failure is noted in the series entry
/// (its scores stand) and counted, never thrown.
void exportSegmentation(const dicom::SeriesGroup& series, const dicom::CtVolumePlan& plan,
                        const CtAnalysisResult& result, const AnalyzeOptions& options,
                        const std::string& label, const std::string& stem,
                        const std::optional<dicom::Deidentification>& deid, SeriesReport& report) {
  std::string file;
  try {
    report.callus = writeSeriesSegmentation(series, plan, result, report.json,
                                            options.outputDirectory, label, stem, file, deid);
    report.json["seg_file"] = file;
  } catch (const std::exception& error) {
    report.json["seg_file"] = nullptr;
    report.json["notes"].push_back(std::string("DICOM SEG not written: ") + error.what());
    report.exportFailed = result.fractureFound; // without a fracture there is nothing to outline
    // The SR still carries the callus measures, without a segment to point at.
    dicom::CallusEntry callus;
    callus.ctSeriesInstanceUid = series.seriesInstanceUid;
    callus.ctSeriesNumber = series.seriesNumber.value_or(0);
    callus.volumeMm3 = report.json["callus_volume_mm3"].get<double>();
    callus.meanHu = report.json["callus_mean_hu"].get<double>();
    report.callus = callus;
  }
}

SeriesReport analyseCtSeries(const dicom::SeriesGroup& series, const AnalyzeOptions& options,
                             const std::string& label, const std::string& stem,
                             const std::optional<dicom::Deidentification>& deid) {
  const fs::path image = options.outputDirectory / "images" / (stem + "_unrolled_cortex.png");
  SeriesReport report;
  Json& json = report.json;
  const dicom::CtVolumePlan plan = dicom::planCtVolume(series);
  if (!plan.ok()) {
    json["status"] = "failed";
    json["error"] = "no CT volume: " + plan.rejectReason;
    return report;
  }
  try {
    const CtImage::Pointer volume = dicom::loadCtVolume(plan);
    CtAnalysisParameters parameters = options.ct;
    parameters.produceLabelMap = options.writeDicom || options.writeVolumes;
    const CtAnalysisResult result = analyzeCtUnion(*volume, lateralityOf(series), parameters);
    json["status"] = "ok";
    json["error"] = nullptr;
    json["cortices"] = corticesJson(result.cortexScores());
    json["callus_volume_mm3"] = std::round(result.callusVolumeMm3 * 10.0) / 10.0;
    json["callus_mean_hu"] = std::round(result.callusMeanHu * 10.0) / 10.0;
    json["callus_mineral_content_uncalibrated"] = round3(result.callusMineralContentUncalibrated);
    json["torsional_rigidity_ratio"] = std::isnan(result.torsionalRigidityRatio)
                                           ? Json(nullptr)
                                           : Json(round3(result.torsionalRigidityRatio));
    json["fracture"] = {{"found", result.fractureFound},
                        {"confidence", round3(result.fractureConfidence)},
                        {"center_lps", vectorJson(result.fractureCentre)},
                        {"normal_lps", vectorJson(result.fractureNormal)},
                        {"shaft_axis_lps", vectorJson(result.shaftAxis)},
                        {"gap_width_mm", round3(result.gapWidthMm)}};
    Json notes = Json::array();
    for (const std::string& note : plan.notes) {
      notes.push_back(note);
    }
    for (const std::string& note : result.notes) {
      notes.push_back(note);
    }
    json["notes"] = notes;
    writeUnrolledMap(result.map, image);
    json["explanation_image"] = image.filename().string();
    if (options.writeVolumes && result.labels) {
      try {
        const WrittenVolumes volumes = writeResultVolumes(
            *result.labels, *volume, result.fractureCentre, options.outputDirectory, stem);
        json["label_map_file"] = volumes.labelMapFile;
        json["ct_file"] = volumes.ctFile;
      } catch (const std::exception& error) {
        json["notes"].push_back(std::string("volumes for the viewer not written: ") + error.what());
      }
    }
    report.ok = true;
    report.cortices = result.cortexScores();
    report.volume = volume;
    if (result.fractureFound) {
      report.fracture = FracturePlane{result.fractureCentre, result.fractureNormal};
    }
    if (options.writeDicom) {
      for (const dicom::SliceSource& slice : plan.slices) {
        for (const dicom::DicomFileHeader& h : series.instances) {
          if (h.path == slice.file) {
            report.images.push_back(h);
            break;
          }
        }
      }
      exportSegmentation(series, plan, result, options, label, stem, deid, report);
    }
  } catch (const std::exception& error) {
    json["status"] = "failed";
    json["error"] = error.what();
  }
  return report;
}

RadiographView radiographView(const std::string& view) {
  return view == "AP"    ? RadiographView::AP
         : view == "LAT" ? RadiographView::Lateral
                         : RadiographView::Unknown;
}

Laterality lateralityFromCode(const std::string& code) {
  return code == "R" ? Laterality::Right : code == "L" ? Laterality::Left : Laterality::Unknown;
}

RadiographAnalysisResult analyzeRadiographFilm(const RadiographImage& image,
                                               const dicom::RadiographPlan& plan,
                                               const AnalyzeOptions& options) {
  return analyzeRadiographUnion(image, plan.pixelSpacingMm, radiographView(plan.view),
                                RadiographOrientation{plan.columnsToward},
                                lateralityFromCode(plan.laterality), options.radiograph);
}

/// One analysed radiograph: its two cortices, the fracture line and the
/// overlay. A radiograph reports only the cortices its view shows.
SeriesReport reportRadiograph(const RadiographImage& image, const dicom::RadiographPlan& plan,
                              const RadiographAnalysisResult& result, const fs::path& overlay) {
  SeriesReport report;
  Json& json = report.json;
  json["view"] = plan.view == "unknown" ? Json(nullptr) : Json(plan.view);
  json["view_source"] = plan.viewSource.empty() ? Json(nullptr) : Json(plan.viewSource);
  json["pixel_spacing_mm"] = plan.pixelSpacingMm > 0 ? Json(plan.pixelSpacingMm) : Json(nullptr);
  json["pixel_spacing_source"] = plan.spacingSource;
  Json notes = Json::array();
  for (const std::string& note : result.notes) {
    notes.push_back(note);
  }
  if (!result.boneFound) {
    json["status"] = "failed";
    json["error"] = "no long-bone shaft found in the image";
    json["notes"] = notes;
    return report;
  }
  json["status"] = "ok";
  json["error"] = nullptr;
  // The categories are validated on phantoms only (real films come with
  // fracture boxes, not categories): shown, measured, but used for a
  // visit's scores only with --use-radiograph-scores.
  json["provisional"] = true;
  Json cortices = Json::object();
  CortexScores scores = result.cortices;
  for (const RadiographSideResult& side : result.sides) {
    if (side.cortex) {
      cortices[std::string(cortexKey(*side.cortex))] =
          cortexJson(scores[static_cast<std::size_t>(*side.cortex)], side.confidence);
    }
  }
  if (!result.fractureFound) {
    for (Cortex cortex : kAllCortices) {
      const std::string key(cortexKey(cortex));
      if (cortices.contains(key)) {
        cortices[key] = cortexJson(scores[static_cast<std::size_t>(cortex)]);
      }
    }
  }
  json["cortices"] = cortices;
  json["fracture_line"] = result.fractureFound
                              ? Json::array({Json::array({round3(result.fractureLine[0][0]),
                                                          round3(result.fractureLine[0][1])}),
                                             Json::array({round3(result.fractureLine[1][0]),
                                                          round3(result.fractureLine[1][1])})})
                              : Json(nullptr);
  json["fracture"] = {{"found", result.fractureFound},
                      {"confidence", round3(result.fractureConfidence)}};
  json["fracture_tilt_deg"] =
      result.fractureFound ? Json(std::round(result.fractureTiltDeg * 10) / 10) : Json(nullptr);
  json["shaft_width_mm"] =
      result.shaftWidthMm > 0 ? Json(round3(result.shaftWidthMm)) : Json(nullptr);
  json["metal_present"] = result.metalPresent;
  Json callus = Json::object();
  for (const RadiographSideResult& side : result.sides) {
    if (side.cortex) {
      callus[std::string(cortexKey(*side.cortex))] =
          result.shaftWidthMm > 0 ? Json(round3(side.callusAreaMm2)) : Json(nullptr);
    }
  }
  json["callus_area_mm2"] = callus;
  json["notes"] = notes;
  writeRadiographOverlay(image, result, overlay);
  json["explanation_image"] = overlay.filename().string();
  report.ok = true;
  report.cortices = scores;
  return report;
}

/// A radiograph series read and analysed, before it is reported: a visit's
/// AP and lateral films are read together first (withdrawSmearedBridging).
struct RadiographRead {
  dicom::RadiographPlan plan;
  RadiographImage::Pointer image;
  std::optional<RadiographAnalysisResult> result;
  std::string error; ///< why it could not be read or analysed
};

RadiographRead readRadiographSeries(const dicom::SeriesGroup& series,
                                    const AnalyzeOptions& options) {
  RadiographRead read;
  read.plan = dicom::planRadiograph(series.instances.front());
  if (!read.plan.ok()) {
    read.error = read.plan.rejectReason;
    return read;
  }
  try {
    read.image = dicom::loadRadiograph(read.plan);
    read.result = analyzeRadiographFilm(*read.image, read.plan, options);
  } catch (const std::exception& error) {
    read.error = error.what();
  }
  return read;
}

SeriesReport reportRadiographSeries(const dicom::SeriesGroup& series, const RadiographRead& read,
                                    const fs::path& overlay) {
  SeriesReport report;
  const Json view =
      !read.plan.ok() || read.plan.view == "unknown" ? Json(nullptr) : Json(read.plan.view);
  if (!read.result) {
    report.json = {{"view", view}, {"status", "failed"}, {"error", read.error}};
    return report;
  }
  try {
    report = reportRadiograph(*read.image, read.plan, *read.result, overlay);
    if (series.instances.size() > 1) {
      report.json["notes"].push_back(
          fmt::format("the series holds {} images: the first was scored", series.instances.size()));
    }
  } catch (const std::exception& error) {
    report.json["view"] = view;
    report.json["status"] = "failed";
    report.json["error"] = error.what();
  }
  return report;
}

/// A visit's AP and lateral films read together: a line far off the
/// cross-section on one view is the plane's tilt along the other view's
/// beam, and the other view's series says so (obliqueToBeamNote).
void noteObliqueToBeam(Json& seriesJson, const RadiographAnalysisParameters& parameters) {
  // The steepest line each view shows.
  std::map<std::string, double> steepest;
  for (const Json& entry : seriesJson) {
    if (entry.contains("fracture_tilt_deg") && entry["fracture_tilt_deg"].is_number() &&
        entry.contains("view") && entry["view"].is_string()) {
      double& tilt = steepest.try_emplace(entry["view"].get<std::string>(), 0.0).first->second;
      tilt = std::max(tilt, entry["fracture_tilt_deg"].get<double>());
    }
  }
  for (Json& entry : seriesJson) {
    if (entry.value("status", "") != "ok" || !entry.contains("view") ||
        !entry["view"].is_string() || !entry.contains("notes")) {
      continue;
    }
    const std::string other = entry["view"] == "AP" ? "LAT" : entry["view"] == "LAT" ? "AP" : "";
    const auto tilt = steepest.find(other);
    if (tilt == steepest.end()) {
      continue;
    }
    if (const std::optional<std::string> note =
            obliqueToBeamNote(radiographView(other), tilt->second, parameters)) {
      entry["notes"].push_back(*note);
    }
  }
}

/// AP and lateral together: each cortex from the radiograph whose view shows
/// it (the first assessable one when several do).
CortexScores combineRadiographs(const std::vector<CortexScores>& radiographs) {
  CortexScores combined;
  for (CortexScore& score : combined) {
    score.notAssessable = "not shown on any radiograph of this visit";
  }
  for (const CortexScores& scores : radiographs) {
    for (std::size_t c = 0; c < combined.size(); ++c) {
      const CortexScore& candidate = scores[c];
      const bool shown =
          candidate.assessable() || candidate.notAssessable != "not shown on this view";
      if (shown && !combined[c].assessable()) {
        combined[c] = candidate;
      }
    }
  }
  return combined;
}

Json scoresJson(const CortexScores& cortices) {
  const UnionScores scores = computeUnionScores(cortices);
  return {{"cortices", corticesJson(cortices)},
          {"rust", scores.rust ? Json(*scores.rust) : Json(nullptr)},
          {"mrust", scores.mrust ? Json(*scores.mrust) : Json(nullptr)},
          {"union", scores.union_ ? Json(*scores.union_) : Json(nullptr)}};
}

using UnionByVisit = std::vector<std::pair<std::string, bool>>;

/// One visit's entry: its series, then the combined scores (CT wins where a
/// visit has both; the two are also given side by side under by_modality).
Json visitJson(const std::string& label, std::optional<double> weeks, const Json& studyUid,
               const Json& studyDate, const Json& series, const std::optional<CortexScores>& ct,
               const std::vector<CortexScores>& radiographs, bool useRadiographScores,
               UnionByVisit& unionByVisit) {
  Json timepoint = {{"label", label},
                    {"weeks", weeks ? Json(round3(*weeks)) : Json(nullptr)},
                    {"study_instance_uid", studyUid},
                    {"study_date", studyDate},
                    {"series", series}};
  std::optional<CortexScores> radiographCombined;
  if (!radiographs.empty()) {
    radiographCombined = combineRadiographs(radiographs);
  }
  // Radiograph scores stand in for CT only when asked for: they are not yet
  // validated to the accuracy the phantom targets ask (docs/radiograph-analysis.md).
  const std::optional<CortexScores> none;
  const std::optional<CortexScores>& chosen =
      ct ? ct : (useRadiographScores ? radiographCombined : none);
  if (chosen) {
    const UnionScores scores = computeUnionScores(*chosen);
    timepoint["cortices"] = corticesJson(*chosen);
    timepoint["rust"] = scores.rust ? Json(*scores.rust) : Json(nullptr);
    timepoint["mrust"] = scores.mrust ? Json(*scores.mrust) : Json(nullptr);
    timepoint["union"] = scores.union_ ? Json(*scores.union_) : Json(nullptr);
    timepoint["rust_at_least_10"] =
        scores.rustAtLeastThreshold ? Json(*scores.rustAtLeastThreshold) : Json(nullptr);
    timepoint["mrust_at_least_13"] =
        scores.mrustAtLeastThreshold ? Json(*scores.mrustAtLeastThreshold) : Json(nullptr);
    timepoint["cortices_source"] = ct ? "CT" : "radiographs";
    unionByVisit.emplace_back(label, scores.union_.value_or(false));
  } else {
    timepoint["cortices"] = nullptr;
    timepoint["rust"] = nullptr;
    timepoint["mrust"] = nullptr;
    timepoint["union"] = nullptr;
    timepoint["cortices_source"] = nullptr;
    unionByVisit.emplace_back(label, false);
  }
  timepoint["by_modality"] = {
      {"ct", ct ? scoresJson(*ct) : Json(nullptr)},
      {"radiographs", radiographCombined ? scoresJson(*radiographCombined) : Json(nullptr)}};
  return timepoint;
}

/// PNG/JPEG radiographs given on the command line: no date, no UIDs, the
/// view from --view. They form one visit of their own.
Json plainImageVisit(const std::vector<fs::path>& files, const AnalyzeOptions& options,
                     AnalyzeOutcome& outcome, UnionByVisit& unionByVisit) {
  Json series = Json::array();
  std::vector<CortexScores> scores;
  for (std::size_t i = 0; i < files.size(); ++i) {
    Json entry = {{"series_instance_uid", nullptr}, {"modality", "DX"}, {"view", nullptr}};
    SeriesReport report;
    try {
      const dicom::PlainRadiograph radiograph =
          dicom::loadPlainRadiograph(files[i], options.viewHint);
      const fs::path overlay =
          options.outputDirectory / "images" / fmt::format("image{}_radiograph_overlay.png", i + 1);
      report = reportRadiograph(*radiograph.image, radiograph.plan,
                                analyzeRadiographFilm(*radiograph.image, radiograph.plan, options),
                                overlay);
    } catch (const std::exception& error) {
      report.json = {{"status", "failed"}, {"error", error.what()}};
    }
    for (auto& [key, value] : report.json.items()) {
      entry[key] = value;
    }
    entry["source_format"] = "plain image";
    entry["source_files"] = Json::array({files[i].string()});
    series.push_back(entry);
    (report.ok ? outcome.seriesAnalysed : outcome.seriesFailed)++;
    if (report.cortices) {
      scores.push_back(*report.cortices);
    }
  }
  return visitJson("images", std::nullopt, nullptr, nullptr, series, std::nullopt, scores,
                   options.useRadiographScores, unionByVisit);
}

/// The SR of a visit with scores. A failure is noted in the visit's entry
/// and counted; the other visits' outputs are unaffected.
void exportVisitReport(Json& timepoint, const VisitExport& visit, const AnalyzeOptions& options,
                       AnalyzeOutcome& outcome) {
  try {
    const std::string file = writeVisitReport(timepoint, visit, options.outputDirectory);
    timepoint["sr_file"] = file;
    outcome.dicomFiles.push_back(options.outputDirectory / file);
  } catch (const std::exception& error) {
    timepoint["sr_file"] = nullptr;
    timepoint["notes"] = Json::array({std::string("DICOM SR not written: ") + error.what()});
    ++outcome.exportsFailed;
  }
}

std::string csvField(const Json& value) {
  if (value.is_null()) {
    return "";
  }
  return csvQuote(value.is_string() ? value.get<std::string>() : value.dump());
}

/// Tidy measurements: one row per visit x series x cortex, derived from the
/// report so the two can never disagree.
std::string measurementsCsv(const Json& report) {
  std::string csv =
      "patient_id,timepoint,weeks,study_date,series_instance_uid,modality,view,status,cortex,"
      "category,bridged,bridged_fraction,not_assessable,callus_volume_mm3,error\n";
  for (const Json& tp : report["timepoints"]) {
    for (const Json& series : tp["series"]) {
      for (Cortex cortex : kAllCortices) {
        const std::string key(cortexKey(cortex));
        const Json none = nullptr;
        // A radiograph reports only the two cortices its view shows.
        const bool has = series.contains("cortices") && series["cortices"].is_object() &&
                         series["cortices"].contains(key);
        const Json& c = has ? series["cortices"][key] : none;
        const auto field = [&](const char* name) {
          return c.is_object() && c.contains(name) ? c[name] : none;
        };
        const std::vector<Json> row{
            report["patient_id"],
            tp["label"],
            tp["weeks"],
            tp["study_date"],
            series["series_instance_uid"],
            series["modality"],
            series["view"],
            series["status"],
            key,
            field("category"),
            field("bridged"),
            field("bridged_fraction"),
            field("not_assessable"),
            series.contains("callus_volume_mm3") ? series["callus_volume_mm3"] : none,
            series.contains("error") ? series["error"] : none};
        for (std::size_t i = 0; i < row.size(); ++i) {
          csv += (i == 0 ? "" : ",") + csvField(row[i]);
        }
        csv += "\n";
      }
    }
  }
  return csv;
}

Json radiographParametersJson(const RadiographAnalysisParameters& p) {
  return {{"working_long_side", p.workingLongSide},
          {"top_hat_share", p.topHatShare},
          {"shutter_min_start_share", p.shutterMinStartShare},
          {"shutter_noise_share", p.shutterNoiseShare},
          {"shutter_min_drop_share", p.shutterMinDropShare},
          {"shutter_min_edge_share", p.shutterMinEdgeShare},
          {"shutter_min_depth_share", p.shutterMinDepthShare},
          {"bone_min_share", p.boneMinShare},
          {"bone_contrast_clip", p.boneContrastClip},
          {"metal_share_of_max", p.metalShareOfMax},
          {"metal_ring_contrast", p.metalRingContrast},
          {"plate_en_face_ring_contrast", p.plateEnFaceRingContrast},
          {"plate_en_face_min_area_share", p.plateEnFaceMinAreaShare},
          {"plate_en_face_min_sharpness", p.plateEnFaceMinSharpness},
          {"metal_above_bone", p.metalAboveBone},
          {"metal_core_step", p.metalCoreStep},
          {"metal_opaque_share", p.metalOpaqueShare},
          {"metal_soft_level_kept", p.metalSoftLevelKept},
          {"metal_flatness", p.metalFlatness},
          {"metal_texture", p.metalTexture},
          {"metal_min_pixels", p.metalMinPixels},
          {"metal_max_edge_share", p.metalMaxEdgeShare},
          {"canal_nail_min_step", p.canalNailMinStep},
          {"canal_nail_max_unevenness", p.canalNailMaxUnevenness},
          {"canal_nail_min_row_share", p.canalNailMinRowShare},
          {"implant_min_elongation", p.implantMinElongation},
          {"implant_share_of_max", p.implantShareOfMax},
          {"implant_max_width_share", p.implantMaxWidthShare},
          {"nail_ring_contrast", p.nailRingContrast},
          {"nail_min_body_share", p.nailMinBodyShare},
          {"nail_min_bone_beside", p.nailMinBoneBeside},
          {"implant_min_area_share", p.implantMinAreaShare},
          {"implant_ring_contrast", p.implantRingContrast},
          {"implant_min_sharpness", p.implantMinSharpness},
          {"implant_min_limb_share", p.implantMinLimbShare},
          {"fixator_min_limb_share", p.fixatorMinLimbShare},
          {"fixator_min_bone_beyond", p.fixatorMinBoneBeyond},
          {"metal_in_limb_reach", p.metalInLimbReach},
          {"cortex_strip_max_turn_deg", p.cortexStripMaxTurnDeg},
          {"implant_tissue_share", p.implantTissueShare},
          {"shaft_min_limb_share", p.shaftMinLimbShare},
          {"bone_bridge_limb_share", p.boneBridgeLimbShare},
          {"bone_bridge_level", p.boneBridgeLevel},
          {"shaft_flare_factor", p.shaftFlareFactor},
          {"metaphysis_flare_factor", p.metaphysisFlareFactor},
          {"joint_margin_widths", p.jointMarginWidths},
          {"faint_bone_flare_factor", p.faintBoneFlareFactor},
          {"film_edge_margin_widths", p.filmEdgeMarginWidths},
          {"metaphysis_evidence_weight", p.metaphysisEvidenceWeight},
          {"implant_span_min_length_widths", p.implantSpanMinLengthWidths},
          {"implant_span_bone_reach_widths", p.implantSpanBoneReachWidths},
          {"implant_on_bone_min_share", p.implantOnBoneMinShare},
          {"implant_seam_max_pixels", p.implantSeamMaxPixels},
          {"fixation_max_turn_deg", p.fixationMaxTurnDeg},
          {"fixation_end_zone_widths", p.fixationEndZoneWidths},
          {"beyond_fixation_evidence_weight", p.beyondFixationEvidenceWeight},
          {"line_hidden_density", p.lineHiddenDensity},
          {"fracture_edge_band_share", p.fractureEdgeBandShare},
          {"fracture_span_window_widths", p.fractureSpanWindowWidths},
          {"fracture_min_evidence", p.fractureMinEvidence},
          {"fixed_fracture_min_evidence", p.fixedFractureMinEvidence},
          {"cortex_gap_window_widths", p.cortexGapWindowWidths},
          {"cortex_gap_far_window_widths", p.cortexGapFarWindowWidths},
          {"cortex_gap_min_dip", p.cortexGapMinDip},
          {"fracture_zone_half_widths", p.fractureZoneHalfWidths},
          {"bridging_contrast", p.bridgingContrast},
          {"remodelled_contrast", p.remodelledContrast},
          {"callus_contrast", p.callusContrast},
          {"callus_reference_nearest_widths", p.callusReferenceNearestWidths},
          {"oblique_to_beam_note_deg", p.obliqueToBeamNoteDeg},
          {"smeared_gap_tilt_deg", p.smearedGapTiltDeg},
          {"collar_contrast", p.collarContrast},
          {"collar_bridged_share", p.collarBridgedShare},
          {"collar_gap_window_widths", p.collarGapWindowWidths},
          {"metal_cover_share", p.metalCoverShare},
          {"plate_alongside_share", p.plateAlongsideShare}};
}

Json parametersJson(const CtAnalysisParameters& p, const RadiographAnalysisParameters& r) {
  const UnionRuleParameters rule;
  return {{"radiograph", radiographParametersJson(r)},
          {"ct",
           {{"metal_threshold_hu", p.metalThresholdHu},
            {"metal_margin_mm", p.metalMarginMm},
            {"bone_threshold_hu", p.boneThresholdHu},
            {"cortical_threshold_hu", p.corticalThresholdHu},
            {"bridging_threshold_hu", p.bridgingThresholdHu},
            {"bridging_relative_density", p.bridgingRelativeDensity},
            {"bridged_fraction_threshold", p.bridgedFractionThreshold},
            {"remodelled_density_ratio", p.remodelledDensityRatio},
            {"callus_present_mm3", p.callusPresentMm3},
            {"callus_present_total_mm3", p.callusPresentTotalMm3},
            {"callus_excess_hu", p.callusExcessHu},
            {"callus_zone_half_length_mm", p.callusZoneHalfLengthMm},
            {"angular_bin_deg", p.angularBinDeg},
            {"fracture_hint_lps", p.fractureHint ? Json(*p.fractureHint) : Json(nullptr)}}},
          {"union_rule",
           {{"min_bridged_cortices", rule.minBridgedCortices},
            {"rust_union_threshold", rule.rustUnionThreshold},
            {"mrust_union_threshold", rule.mrustUnionThreshold}}}};
}

/// Every input file of the patient (and every rejected file) with its size
/// and SHA-256, in path order.
Json inputHashes(const dicom::PatientGroup& patient, const std::vector<fs::path>& plainImages,
                 const std::vector<dicom::RejectedFile>& rejectedFiles) {
  std::vector<fs::path> files(plainImages);
  for (const dicom::StudyGroup& study : patient.studies) {
    for (const dicom::SeriesGroup& series : study.series) {
      for (const dicom::DicomFileHeader& h : series.instances) {
        files.push_back(h.path);
      }
    }
  }
  for (const dicom::RejectedFile& r : rejectedFiles) {
    std::error_code error;
    if (fs::is_regular_file(r.path, error)) {
      files.push_back(r.path);
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<std::string> hashes(files.size());
  oneapi::tbb::parallel_for(std::size_t{0}, files.size(), [&](std::size_t i) {
    try {
      hashes[i] = sha256OfFile(files[i]);
    } catch (const std::exception& error) {
      hashes[i] = std::string("unreadable: ") + error.what();
    }
  });
  Json json = Json::array();
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::error_code error;
    const auto bytes = fs::file_size(files[i], error);
    json.push_back({{"path", files[i].string()},
                    {"bytes", error ? Json(nullptr) : Json(bytes)},
                    {"sha256", hashes[i]}});
  }
  return json;
}

AnalyzeOutcome analyzeVisits(const dicom::PatientGroup& patient,
                             const std::vector<fs::path>& plainImages,
                             const std::vector<dicom::RejectedFile>& rejected,
                             const AnalyzeOptions& options, const std::string& started);

} // namespace

AnalyzeOutcome analyzePatient(const AnalyzeOptions& options) {
  const std::string started = utcTimestampNow();
  const dicom::ScanResult scan = dicom::scanDicom(options.inputs);
  for (const dicom::RejectedFile& file : scan.rejected) {
    spdlog::warn("{}: {}", file.path.string(), file.reason);
  }
  if (scan.patients.empty()) {
    if (!scan.plainImages.empty()) {
      if (options.viewHint.empty()) {
        spdlog::warn("plain image inputs without --view AP|LAT: their cortices cannot be named");
      }
      return analyzeVisits(dicom::PatientGroup{}, scan.plainImages, scan.rejected, options,
                           started);
    }
    throw UsageError("no usable DICOM image among the inputs");
  }
  const dicom::PatientGroup* patient = nullptr;
  if (options.patientId) {
    for (const dicom::PatientGroup& p : scan.patients) {
      patient = p.patientId == *options.patientId ? &p : patient;
    }
    if (patient == nullptr) {
      throw UsageError("no patient with the given --patient ID among the inputs");
    }
  } else if (scan.patients.size() > 1) {
    throw UsageError(fmt::format("the inputs hold {} patients: choose one with --patient, or use "
                                 "'unionscope batch'",
                                 scan.patients.size()));
  } else {
    patient = &scan.patients.front();
  }
  return analyzeVisits(*patient, scan.plainImages, scan.rejected, options, started);
}

AnalyzeOutcome analyzeScannedPatient(const dicom::PatientGroup& patient,
                                     const std::vector<dicom::RejectedFile>& rejected,
                                     const AnalyzeOptions& options, const std::string& started) {
  return analyzeVisits(patient, {}, rejected, options, started);
}

namespace {

/// A follow-up visit: a time point, not a study. The radiographs and the CT
/// of one visit are often separate studies, days apart.
struct FollowUpVisit {
  std::string label;
  std::optional<double> weeks;  ///< of its first study; none when undated
  std::optional<long> firstDay; ///< of its first study, when dated
  bool trialLabelled = false;   ///< its label is the trial's time point
  std::vector<const dicom::StudyGroup*> studies;
};

/// Studies (in time) grouped into visits: those with the same trial time
/// point, or dated in the same week after the reference or within four
/// days of the visit's first study, are one visit.
/// Undated studies stay apart. Labels are unique (W?_2 for a second undated
/// study): they name visits in reads and files.
std::vector<FollowUpVisit>
groupStudiesIntoVisits(const std::vector<const dicom::StudyGroup*>& studies,
                       std::optional<long> reference) {
  // Studies this close to a visit's first study are the same visit
  // (follow-up visits are weeks apart; the CT and the films of one visit,
  // days).
  constexpr long kSameVisitDays = 4;
  std::vector<FollowUpVisit> visits;
  UniqueNames labels;
  for (const dicom::StudyGroup* study : studies) {
    const std::optional<long> days = daysSinceEpoch(study->studyDate);
    const bool dated = days.has_value() && reference.has_value();
    const double weeks = dated ? static_cast<double>(*days - *reference) / 7.0 : 0.0;
    std::string label = dated ? fmt::format("W{}", std::lround(weeks)) : "W?";
    bool trialLabel = false;
    for (const dicom::SeriesGroup& series : study->series) {
      if (!series.instances.empty() && !series.instances.front().clinicalTrialTimePointId.empty()) {
        label = series.instances.front().clinicalTrialTimePointId; // the trial's own label wins
        trialLabel = true;
        break;
      }
    }
    const auto joins = [&](const FollowUpVisit& visit) {
      if (!visit.firstDay && !visit.trialLabelled) {
        return false; // undated and unlabelled: nothing ties anything to it
      }
      if (visit.label == label) {
        return dated || trialLabel;
      }
      // A week boundary must not split a visit: a radiograph at 12.4 weeks
      // and the CT two days later (12.7) are one visit, not W12 and W13 (a
      // study the trial labelled as another time point stays apart).
      return dated && !trialLabel && visit.firstDay && *days - *visit.firstDay <= kSameVisitDays;
    };
    const auto visit = std::find_if(visits.begin(), visits.end(), joins);
    if (visit != visits.end()) {
      visit->studies.push_back(study);
    } else {
      visits.push_back({labels.claim(label),
                        dated ? std::optional<double>(weeks) : std::nullopt,
                        dated ? days : std::nullopt,
                        trialLabel,
                        {study}});
    }
  }
  return visits;
}

/// Every series of a visit with the study it belongs to, study by study.
std::vector<std::pair<const dicom::StudyGroup*, const dicom::SeriesGroup*>>
seriesOfVisit(const FollowUpVisit& visit) {
  std::vector<std::pair<const dicom::StudyGroup*, const dicom::SeriesGroup*>> all;
  for (const dicom::StudyGroup* study : visit.studies) {
    for (const dicom::SeriesGroup& series : study->series) {
      all.emplace_back(study, &series);
    }
  }
  return all;
}

AnalyzeOutcome analyzeVisits(const dicom::PatientGroup& patientGroup,
                             const std::vector<fs::path>& plainImages,
                             const std::vector<dicom::RejectedFile>& rejectedFiles,
                             const AnalyzeOptions& options, const std::string& started) {
  const dicom::PatientGroup* patient = &patientGroup;
  AnalyzeOutcome outcome;
  outcome.filesRejected = static_cast<int>(rejectedFiles.size());
  // Read before this run overwrites the audit: what an earlier run left here.
  const std::vector<fs::path> earlierOutputs = previousOutputs(options.outputDirectory);

  // Visits in time; weeks since the reference date (else the first study).
  std::vector<const dicom::StudyGroup*> studies;
  for (const dicom::StudyGroup& study : patient->studies) {
    studies.push_back(&study);
  }
  std::stable_sort(studies.begin(), studies.end(), [](const auto* a, const auto* b) {
    return daysSinceEpoch(a->studyDate).value_or(0) < daysSinceEpoch(b->studyDate).value_or(0);
  });
  std::optional<long> reference;
  if (options.referenceDate) {
    reference = daysSinceEpoch(*options.referenceDate);
    if (!reference) {
      throw UsageError("--reference-date must be a date as YYYY-MM-DD");
    }
  } else {
    for (const auto* study : studies) {
      if (const auto days = daysSinceEpoch(study->studyDate)) {
        reference = days;
        break;
      }
    }
  }

  std::optional<dicom::Deidentification> deidentification;
  if (options.deidentify.enabled) {
    deidentification =
        deidentificationFor(patient->patientId, options.deidentify.secret,
                            options.deidentify.pseudonym, options.deidentify.dateShiftDays);
  }

  Json timepoints = Json::array();
  std::optional<RegistrationReference> registrationReference; // the first CT visit
  std::map<std::string, int> lateralityVotes;
  UnionByVisit unionByVisit;
  UniqueNames outputStems;
  for (const FollowUpVisit& visit : groupStudiesIntoVisits(studies, reference)) {
    const std::string& label = visit.label;
    const bool dated = visit.weeks.has_value();
    const double weeks = visit.weeks.value_or(0.0);
    const dicom::StudyGroup* visitStudy = visit.studies.front(); // the CT's, once found
    Json seriesJson = Json::array();
    std::optional<CortexScores> ctScores;
    std::vector<CortexScores> radiographScores;
    RegistrationReference visitCt; // the CT series whose scores the visit reports
    VisitExport visitExport;
    visitExport.deidentification = deidentification;
    // The visit's radiographs are read together before any is reported: a
    // steep, cleft plane on one view withdraws the other's bridged
    // readings. (In series order; each is dropped once reported.)
    std::vector<std::pair<const dicom::SeriesGroup*, RadiographRead>> radiographReads;
    for (const auto& [study, seriesRef] : seriesOfVisit(visit)) {
      if (seriesRef->modality == "DX" || seriesRef->modality == "CR") {
        radiographReads.emplace_back(seriesRef, readRadiographSeries(*seriesRef, options));
      }
    }
    {
      std::vector<std::pair<RadiographView, RadiographAnalysisResult*>> films;
      for (auto& [series, read] : radiographReads) {
        if (read.result) {
          films.emplace_back(radiographView(read.plan.view), &*read.result);
        }
      }
      withdrawSmearedBridgingInVisit(films, options.radiograph);
    }
    for (const auto& [study, seriesRef] : seriesOfVisit(visit)) {
      const dicom::SeriesGroup& series = *seriesRef;
      Json entry = {{"series_instance_uid", series.seriesInstanceUid},
                    {"study_instance_uid", study->studyInstanceUid},
                    {"modality", series.modality},
                    {"view", nullptr}};
      SeriesReport report;
      const Laterality laterality = lateralityOf(series);
      if (laterality != Laterality::Unknown) {
        ++lateralityVotes[laterality == Laterality::Right ? "R" : "L"];
      }
      // One stem per series for all its files (picture, SEG, volumes): two
      // series of a visit may share a number, or have none.
      const std::string stem = outputStems.claim(
          fmt::format("{}_series{}", fileSafe(label), series.seriesNumber.value_or(0)));
      if (series.modality == "CT") {
        report = analyseCtSeries(series, options, label, stem, deidentification);
        if (report.ok) {
          visitExport.images.insert(visitExport.images.end(), report.images.begin(),
                                    report.images.end());
          if (report.callus) {
            visitExport.callus.push_back(*report.callus);
          }
          if (visitExport.laterality == "unknown" && laterality != Laterality::Unknown) {
            visitExport.laterality = laterality == Laterality::Right ? "R" : "L";
          }
        }
        outcome.exportsFailed += report.exportFailed ? 1 : 0;
      } else if (series.modality == "DX" || series.modality == "CR") {
        const fs::path image =
            options.outputDirectory / "images" / (stem + "_radiograph_overlay.png");
        const auto read =
            std::find_if(radiographReads.begin(), radiographReads.end(),
                         [&](const auto& pending) { return pending.first == &series; });
        report = reportRadiographSeries(series, read->second, image);
        read->second = RadiographRead{}; // its image is no longer needed
      } else {
        report.json = {
            {"status", "failed"},
            {"error", fmt::format("modality {} is not used for union scoring",
                                  series.modality.empty() ? "(none)" : series.modality)}};
      }
      for (auto& [key, value] : report.json.items()) {
        entry[key] = value;
      }
      Json files = Json::array();
      for (const dicom::DicomFileHeader& h : series.instances) {
        files.push_back(h.path.string());
      }
      entry["source_files"] = files;
      for (const char* key : {"label_map_file", "ct_file"}) {
        if (entry.contains(key) && entry[key].is_string()) {
          outcome.volumeFiles.push_back(options.outputDirectory / entry[key].get<std::string>());
        }
      }
      if (entry.contains("seg_file") && entry["seg_file"].is_string()) {
        outcome.dicomFiles.push_back(options.outputDirectory /
                                     entry["seg_file"].get<std::string>());
      }
      seriesJson.push_back(entry);
      (report.ok ? outcome.seriesAnalysed : outcome.seriesFailed)++;
      if (report.cortices) {
        if (series.modality == "CT") {
          if (!ctScores) {
            ctScores = report.cortices;
            visitCt = {label, series.seriesInstanceUid, report.volume, report.fracture};
            visitStudy = study; // the SR is filed in the CT's study
          }
        } else {
          radiographScores.push_back(*report.cortices);
        }
      }
    }
    noteObliqueToBeam(seriesJson, options.radiograph);
    Json timepoint = visitJson(label, dated ? std::optional<double>(weeks) : std::nullopt,
                               Json(visitStudy->studyInstanceUid),
                               Json(isoDate(visitStudy->studyDate)), seriesJson, ctScores,
                               radiographScores, options.useRadiographScores, unionByVisit);
    // The SR measures what CT measured; radiograph-only visits get none.
    if (ctScores && options.writeDicom && !visitExport.images.empty()) {
      exportVisitReport(timepoint, visitExport, options, outcome);
    }
    // Longitudinal: later CT visits registered to the first one.
    if (visitCt.volume && registrationReference) {
      registerVisit(timepoint, *registrationReference, *visitCt.volume, options, outcome);
    } else {
      timepoint["registration"] = nullptr;
      if (visitCt.volume) {
        registrationReference = visitCt;
      }
    }
    timepoints.push_back(timepoint);
  }
  if (!plainImages.empty()) {
    timepoints.push_back(plainImageVisit(plainImages, options, outcome, unionByVisit));
  }
  const Json trajectories = trajectoriesJson(timepoints);
  // Union: the first visit meeting the rule that no later visit contradicts.
  Json unionTimepoint = nullptr;
  for (std::size_t v = 0; v < unionByVisit.size(); ++v) {
    bool holds = true;
    for (std::size_t w = v; w < unionByVisit.size(); ++w) {
      holds = holds && unionByVisit[w].second;
    }
    if (holds) {
      unionTimepoint = unionByVisit[v].first;
      break;
    }
  }
  std::string laterality = "unknown";
  if (lateralityVotes.size() == 1) {
    laterality = lateralityVotes.begin()->first;
  } else if (lateralityVotes.size() > 1) {
    spdlog::warn("series disagree on laterality: reported as unknown");
  }
  Json report = {
      {"schema", "unionscope.report/1"},
      {"software", {{"name", kSoftwareName}, {"version", kVersion}, {"git_commit", kGitCommit}}},
      {"patient_id", patient->patientId},
      {"laterality", laterality},
      {"timepoints", timepoints},
      {"union_timepoint", unionTimepoint},
      {"trajectories", trajectories}};
  // Hashed once, for the audit and for a de-identified report's source_files.
  const Json inputFiles = inputHashes(*patient, plainImages, rejectedFiles);
  if (deidentification) {
    std::map<std::string, std::string> sha256ByPath;
    for (const Json& file : inputFiles) {
      sha256ByPath[file["path"].get<std::string>()] = file["sha256"].get<std::string>();
    }
    deidentifyReport(report, *deidentification, sha256ByPath);
  }
  outcome.report = options.outputDirectory / "report.json";
  const std::string reportText = report.dump(2) + "\n";
  writeFileAtomically(outcome.report, reportText);
  writeFileAtomically(options.outputDirectory / "measurements.csv", measurementsCsv(report));
  // A snapshot from an earlier run into this folder would show other results.
  std::error_code stale;
  fs::remove(options.outputDirectory / "images" / kViewerSnapshotImage, stale);
  if (options.renderSnapshot) {
    try {
      options.renderSnapshot(options.outputDirectory);
    } catch (const std::exception& error) {
      spdlog::warn("3D snapshot for report.html not rendered: {}", error.what());
    }
  }
  writeFileAtomically(options.outputDirectory / "report.html",
                      htmlReport(report, options.outputDirectory));

  Json inputs = Json::array();
  for (const fs::path& input : options.inputs) {
    inputs.push_back(input.string());
  }
  Json rejected = Json::array();
  for (const dicom::RejectedFile& file : rejectedFiles) {
    rejected.push_back({{"path", file.path.string()}, {"reason", file.reason}});
  }
  const fs::path reportPath = outcome.report;
  Json volumeOutputs = Json::array();
  for (const fs::path& file : outcome.volumeFiles) {
    volumeOutputs.push_back({{"path", file.string()}, {"sha256", sha256OfFile(file)}});
  }
  Json dicomOutputs = Json::array();
  for (const fs::path& file : outcome.dicomFiles) {
    dicomOutputs.push_back({{"path", file.string()}, {"sha256", sha256OfFile(file)}});
  }
  Json registrationOutputs = Json::array();
  for (const fs::path& file : outcome.registrationFiles) {
    registrationOutputs.push_back({{"path", file.string()}, {"sha256", sha256OfFile(file)}});
  }
  std::vector<fs::path> written = outcome.dicomFiles;
  written.insert(written.end(), outcome.volumeFiles.begin(), outcome.volumeFiles.end());
  written.insert(written.end(), outcome.registrationFiles.begin(), outcome.registrationFiles.end());
  const std::vector<std::string> removedStale =
      removeStaleOutputs(options.outputDirectory, earlierOutputs, written);
  for (const std::string& file : removedStale) {
    spdlog::info("removed {} (written by an earlier run, not by this one)", file);
  }
  Json parameters = parametersJson(options.ct, options.radiograph);
  parameters["registration"] = registrationParametersJson(options.registration);
  const Json audit = {
      {"schema", "unionscope.audit/1"},
      {"software", {{"name", kSoftwareName}, {"version", kVersion}, {"git_commit", kGitCommit}}},
      {"started", started},
      {"finished", utcTimestampNow()},
      {"request",
       {{"inputs", inputs},
        {"out", options.outputDirectory.string()},
        {"reference_date", options.referenceDate ? Json(*options.referenceDate) : Json(nullptr)},
        {"patient_selected", options.patientId.has_value()},
        {"view_hint", options.viewHint},
        {"use_radiograph_scores", options.useRadiographScores}}},
      {"parameters", parameters},
      {"input_files", inputFiles},
      {"rejected_files", rejected},
      {"report_sha256", sha256OfFile(reportPath)},
      {"report_html_sha256", sha256OfFile(options.outputDirectory / "report.html")},
      {"dicom_outputs", dicomOutputs},
      {"volume_outputs", volumeOutputs},
      {"registration_outputs", registrationOutputs},
      {"removed_stale_outputs", removedStale},
      {"dicom_deidentification", deidentification
                                     ? Json{{"method", dicom::kDeidentificationMethod},
                                            {"pseudonym", deidentification->pseudonym},
                                            {"date_shift_days", deidentification->dateShiftDays},
                                            {"keyed_by_secret", !options.deidentify.secret.empty()}}
                                     : Json(nullptr)}};
  writeFileAtomically(options.outputDirectory / "audit.json", audit.dump(2) + "\n");
  return outcome;
}

} // namespace

} // namespace unionscope
