// Writes a phantom patient as DICOM (one study per visit: a CT series and an
// AP and a lateral DX series) and its ground truth, truth.json, in the terms
// of the report contract (DESIGN.md).

#include "PhantomInternal.h"
#include "PhantomRandom.h"
#include "unionscope/pipeline/Dates.h"
#include "unionscope/pipeline/dicom/DicomWriter.h"
#include "unionscope/pipeline/dicom/UidFactory.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <fstream>

namespace unionscope::phantom {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string addDays(const std::string& yyyymmdd, long days) {
  return dicomDate(*daysSinceEpoch(yyyymmdd) + days);
}

std::string weeksLabel(double weeks) {
  return fmt::format("W{}", std::lround(weeks));
}

/// Rounds for the JSON so that truth files stay readable and stable.
double round4(double v) {
  return std::round(v * 1e4) / 1e4;
}

json vectorJson(const std::array<double, 3>& v) {
  return json::array({round4(v[0]), round4(v[1]), round4(v[2])});
}

json cortexJson(const CortexState& state) {
  const bool bridged = state.category == CortexCategory::BridgingCallus ||
                       state.category == CortexCategory::Remodelled;
  return {{"category", static_cast<int>(state.category)},
          {"bridged", bridged},
          {"bridged_fraction", round4(state.bridgedFraction)}};
}

/// A cortex as a radiograph shows it: in profile, at the sector's centre
/// (the point the view's beam grazes). A bridge that covers only part of
/// the sector's arc, away from that point, is not on the film: the rays
/// through the profile still cross the cleft, and a reader of the film
/// scores the cortex unbridged. The CT sector's own category stays beside
/// it as `sector_category`.
json radiographCortexJson(const CortexState& state) {
  json entry = cortexJson(state);
  entry.erase("bridged_fraction");
  const double halfArcDeg = 45.0 * state.bridgedFraction;
  const bool bridgeMissesProfile = state.category == CortexCategory::BridgingCallus &&
                                   std::abs(state.bridgeCentreDeg) > halfArcDeg;
  if (bridgeMissesProfile) {
    entry["category"] = static_cast<int>(CortexCategory::CallusVisibleLine);
    entry["bridged"] = false;
  }
  entry["sector_category"] = static_cast<int>(state.category);
  return entry;
}

dicom::CtEncoding ctEncoding(int variant) {
  switch (variant) {
  case 1:
    return {1.0, 0.0, true, 16};
  case 2:
    return {0.5, -1024.0, false, 14};
  default:
    return {1.0, -1024.0, false, 12};
  }
}

std::string relativePath(const fs::path& file, const fs::path& root) {
  return file.lexically_relative(root).generic_string();
}

} // namespace

fs::path writePatient(const PatientSpec& spec, const fs::path& directory, bool previews) {
  const dicom::UidFactory uids(spec.seed);
  const std::string laterality(1, spec.laterality);
  dicom::PatientModule patient{spec.patientId, "Phantom^" + spec.patientId, "19700101",
                               spec.seed % 2 == 0 ? "F" : "M"};
  json timepoints = json::array();
  std::optional<std::string> unionLabel;
  std::vector<bool> unionPerVisit;

  for (std::size_t v = 0; v < spec.visits.size(); ++v) {
    const VisitPlan& plan = spec.visits[v];
    const std::string label = weeksLabel(plan.weeks);
    const std::string folder = fmt::format("W{:02d}", std::lround(plan.weeks));
    dicom::StudyModule study;
    study.instanceUid = uids.uid("study/" + label);
    study.date = addDays(spec.injuryDate, std::lround(plan.weeks * 7));
    study.time = "093000";
    study.id = label;
    study.accessionNumber = fmt::format("A{}{:02d}", spec.seed % 100000, v + 1);
    study.description = "Tibia follow-up " + label;
    study.clinicalTrialSponsor = "UnionScope phantom";
    study.clinicalTrialProtocolId = "PHANTOM";
    study.clinicalTrialSubjectId = spec.patientId;
    study.clinicalTrialTimePointId = label;
    study.clinicalTrialTimePointDescription = fmt::format("{} weeks after injury", plan.weeks);

    const RenderedVisit rendered = renderVisit(spec, v);
    const fs::path ctDir = directory / "dicom" / folder / "CT";
    dicom::SeriesModule ctSeries;
    ctSeries.instanceUid = uids.uid("series/CT/" + label);
    ctSeries.number = 1;
    ctSeries.description = "CT tibia 1mm bone";
    ctSeries.laterality = laterality;
    ctSeries.frameOfReferenceUid = uids.uid("for/" + label);
    std::vector<std::string> sopUids;
    for (int k = 0; k < spec.voxels[2]; ++k) {
      sopUids.push_back(uids.uid(fmt::format("sop/CT/{}/{}", label, k)));
    }
    const std::vector<fs::path> ctFiles = dicom::writeCtSeries(
        *rendered.ct.hu, ctDir, patient, study, ctSeries, sopUids, ctEncoding(spec.ctEncoding));
    json ctSources = json::array();
    for (const fs::path& file : ctFiles) {
      ctSources.push_back(relativePath(file, directory));
    }

    json cortices = json::object();
    CortexScores scores;
    for (Cortex cortex : kAllCortices) {
      const CortexState& state = plan.cortices[static_cast<std::size_t>(cortex)];
      cortices[std::string(cortexKey(cortex))] = cortexJson(state);
      scores[static_cast<std::size_t>(cortex)].category = state.category;
    }
    const UnionScores union_ = computeUnionScores(scores);
    unionPerVisit.push_back(union_.union_.value_or(false));

    json series = json::array();
    series.push_back({{"series_instance_uid", ctSeries.instanceUid},
                      {"modality", "CT"},
                      {"view", nullptr},
                      {"cortices", cortices},
                      {"callus_volume_mm3", round4(rendered.ct.callusVolumeMm3)},
                      {"source_files", ctSources}});

    const std::array<ProjectionRadiograph, 2> radiographs{
        projectRadiograph(spec, rendered, v, View::AP),
        projectRadiograph(spec, rendered, v, View::Lateral)};
    if (previews) {
      writeVisitPreviews(rendered, radiographs[0], radiographs[1], directory / "preview", folder);
    }
    for (const View view : {View::AP, View::Lateral}) {
      const bool ap = view == View::AP;
      const ProjectionRadiograph& radiograph = radiographs[ap ? 0 : 1];
      dicom::SeriesModule dxSeries;
      dxSeries.instanceUid = uids.uid(fmt::format("series/DX/{}/{}", label, ap ? "AP" : "LAT"));
      dxSeries.number = ap ? 2 : 3;
      dxSeries.description = ap ? "Tibia AP" : "Tibia lateral";
      dicom::DxImageSpec dx;
      dx.viewPosition = ap ? "AP" : "LL";
      dx.viewCode = ap ? dicom::kAnteroPosteriorView : dicom::kLateroMedialView;
      dx.imageLaterality = laterality;
      dx.imagerPixelSpacingMm = spec.radiographPixelMm * spec.magnificationFactor;
      dx.magnificationFactor = spec.magnificationFactor;
      dx.monochrome1 = spec.monochrome1;
      dx.sopInstanceUid = uids.uid(fmt::format("sop/DX/{}/{}", label, ap ? "AP" : "LAT"));
      const fs::path file = directory / "dicom" / folder / (ap ? "DX_AP.dcm" : "DX_LAT.dcm");
      dicom::writeDxImage(*radiograph.image, file, patient, study, dxSeries, dx);
      const fs::path metalMask =
          directory / "truth" / folder / (ap ? "DX_AP_metal.png" : "DX_LAT_metal.png");
      writeMetalMask(radiograph, metalMask);

      json dxCortices = json::object();
      for (Cortex cortex : ap ? std::array<Cortex, 2>{Cortex::Medial, Cortex::Lateral}
                              : std::array<Cortex, 2>{Cortex::Anterior, Cortex::Posterior}) {
        json entry = radiographCortexJson(plan.cortices[static_cast<std::size_t>(cortex)]);
        // A medial plate lies over the medial cortex's profile on the AP view.
        entry["obscured_by_implant"] =
            ap && cortex == Cortex::Medial && spec.implant == Implant::Plate;
        dxCortices[std::string(cortexKey(cortex))] = entry;
      }
      series.push_back(
          {{"series_instance_uid", dxSeries.instanceUid},
           {"modality", "DX"},
           {"view", ap ? "AP" : "LAT"},
           {"cortices", dxCortices},
           {"fracture_line", json::array({json::array({round4(radiograph.fractureLine[0][0]),
                                                       round4(radiograph.fractureLine[0][1])}),
                                          json::array({round4(radiograph.fractureLine[1][0]),
                                                       round4(radiograph.fractureLine[1][1])})})},
           {"pixel_spacing_mm", spec.radiographPixelMm},
           {"photometric", spec.monochrome1 ? "MONOCHROME1" : "MONOCHROME2"},
           {"metal_mask", relativePath(metalMask, directory)},
           {"source_files", json::array({relativePath(file, directory)})}});
    }

    timepoints.push_back({{"label", label},
                          {"weeks", plan.weeks},
                          {"study_instance_uid", study.instanceUid},
                          {"study_date", isoDate(study.date)},
                          {"series", series},
                          {"cortices", cortices},
                          {"rust", *union_.rust},
                          {"mrust", *union_.mrust},
                          {"union", unionPerVisit.back()},
                          {"callus_volume_mm3", round4(rendered.ct.callusVolumeMm3)},
                          {"fracture_center_lps", vectorJson(rendered.ct.fractureCenter)},
                          {"fracture_normal_lps", vectorJson(rendered.ct.fractureNormal)},
                          {"shaft_axis_lps", vectorJson(rendered.ct.shaftAxis)},
                          {"anterior_lps", vectorJson(rendered.ct.anterior)},
                          {"medial_lps", vectorJson(rendered.ct.medial)}});
  }
  if (previews) {
    std::vector<std::string> folders;
    for (const VisitPlan& plan : spec.visits) {
      folders.push_back(fmt::format("W{:02d}", std::lround(plan.weeks)));
    }
    writePreviewSheet(directory / "preview", folders);
  }
  // Union visit: the first that meets the rule and is not followed by a
  // visit that does not.
  for (std::size_t v = 0; v < unionPerVisit.size() && !unionLabel; ++v) {
    bool holds = true;
    for (std::size_t w = v; w < unionPerVisit.size(); ++w) {
      holds = holds && unionPerVisit[w];
    }
    if (holds) {
      unionLabel = timepoints[v]["label"].get<std::string>();
    }
  }

  const json truth = {
      {"schema", "unionscope.truth/1"},
      {"patient_id", spec.patientId},
      {"laterality", laterality},
      {"seed", spec.seed},
      {"scenario", scenarioName(spec.scenario)},
      {"implant", implantName(spec.implant)},
      {"fracture_type", spec.fracture == FractureType::Oblique ? "oblique" : "transverse"},
      {"fracture_obliquity_deg", round4(spec.fractureObliquityDeg)},
      {"gap_mm", round4(spec.gapMm)},
      {"shaft_tilt_deg", round4(spec.shaftTiltDeg)},
      {"ct_voxels", spec.voxels},
      {"ct_spacing_mm", spec.spacingMm},
      {"injury_date", isoDate(spec.injuryDate)},
      {"timepoints", timepoints},
      {"union_timepoint", unionLabel ? json(*unionLabel) : json(nullptr)}};
  fs::create_directories(directory);
  const fs::path truthPath = directory / "truth.json";
  std::ofstream(truthPath) << truth.dump(2) << '\n';
  return truthPath;
}

fs::path writeCohort(int patients, std::uint64_t seed, SizePreset size, const fs::path& directory,
                     const std::vector<double>& visitWeeks) {
  Rng rng(seed, 99);
  json members = json::array();
  const std::vector<std::string> names = scenarioNames();
  for (int p = 0; p < patients; ++p) {
    // A trial-like mix: most fractures heal, some late, some never.
    const double draw = rng.uniform();
    const Scenario scenario = draw < 0.45   ? Scenario::NormalHealing
                              : draw < 0.65 ? Scenario::DelayedUnion
                              : draw < 0.8  ? Scenario::PartialBridging
                              : draw < 0.9  ? Scenario::HypertrophicNonunion
                                            : Scenario::AtrophicNonunion;
    const double implantDraw = rng.uniform();
    const Implant implant = implantDraw < 0.4   ? Implant::Nail
                            : implantDraw < 0.7 ? Implant::Plate
                                                : Implant::None;
    const std::uint64_t patientSeed = seed * 1000 + static_cast<std::uint64_t>(p) + 1;
    PatientSpec spec = makePatientSpec(patientSeed, scenario, implant, size, visitWeeks);
    spec.patientId = fmt::format("PHANTOM-{:03d}", p + 1);
    const std::string folder = fmt::format("patient_{:03d}", p + 1);
    writePatient(spec, directory / folder);
    members.push_back({{"folder", folder},
                       {"patient_id", spec.patientId},
                       {"scenario", scenarioName(scenario)},
                       {"implant", implantName(implant)}});
  }
  const fs::path path = directory / "cohort_truth.json";
  std::ofstream(path)
      << json{{"schema", "unionscope.cohort_truth/1"}, {"seed", seed}, {"patients", members}}.dump(
             2)
      << '\n';
  return path;
}

} // namespace unionscope::phantom
