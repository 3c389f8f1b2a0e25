// Scenario names and the seeded choice of every phantom parameter. Healing is
// modelled per cortex as a timeline (weeks at which the cortex reaches
// category 2, 3 and 4), so any list of visit weeks gets consistent states.

#include "PhantomRandom.h"
#include "unionscope/sample_data/Phantom.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace unionscope::phantom {
namespace {

constexpr double kNever = std::numeric_limits<double>::infinity();

struct CortexTimeline {
  double callusWeek = kNever;  ///< reaches category 2
  double bridgeWeek = kNever;  ///< reaches category 3
  double remodelWeek = kNever; ///< reaches category 4
  double initialBridge = 0.4;  ///< bridged fraction when bridging starts
  double bridgeGrowthPerWeek = 0.05;
  double peakThicknessMm = 3.5;
  double matureHu = 850;
};

struct ScenarioEntry {
  Scenario scenario;
  const char* name;
};
constexpr ScenarioEntry kScenarios[] = {
    {Scenario::NormalHealing, "normal"},
    {Scenario::DelayedUnion, "delayed"},
    {Scenario::AtrophicNonunion, "atrophic_nonunion"},
    {Scenario::HypertrophicNonunion, "hypertrophic_nonunion"},
    {Scenario::PartialBridging, "partial_bridging"},
};

std::array<CortexTimeline, 4> scenarioTimelines(Scenario scenario, Rng& rng) {
  std::array<CortexTimeline, 4> t{};
  // One cortex, chosen by the seed, heals last (often the one under a plate or
  // on the tension side); the others follow the scenario's pace.
  const int lagging = rng.integer(0, 3);
  for (int c = 0; c < 4; ++c) {
    CortexTimeline& x = t[static_cast<std::size_t>(c)];
    const bool lags = c == lagging;
    switch (scenario) {
    case Scenario::NormalHealing:
      x.callusWeek = rng.uniform(2.5, 5.0);
      x.bridgeWeek = rng.uniform(8.0, 11.5) + (lags ? 6.0 : 0.0);
      x.remodelWeek = rng.uniform(17.0, 22.0) + (lags ? 8.0 : 0.0);
      x.initialBridge = rng.uniform(0.45, 0.7);
      x.bridgeGrowthPerWeek = rng.uniform(0.04, 0.08);
      x.peakThicknessMm = rng.uniform(2.8, 4.5);
      x.matureHu = rng.uniform(800, 950);
      break;
    case Scenario::DelayedUnion:
      x.callusWeek = rng.uniform(5.0, 10.0);
      x.bridgeWeek = lags ? kNever : rng.uniform(17.0, 23.0);
      x.initialBridge = rng.uniform(0.4, 0.6);
      x.bridgeGrowthPerWeek = rng.uniform(0.02, 0.05);
      x.peakThicknessMm = rng.uniform(2.5, 4.0);
      x.matureHu = rng.uniform(700, 850);
      break;
    case Scenario::AtrophicNonunion:
      // Little or no callus ever; what forms stays thin and poorly mineralised.
      x.callusWeek = rng.chance(0.5) ? rng.uniform(10.0, 22.0) : kNever;
      x.peakThicknessMm = rng.uniform(1.6, 2.2);
      x.matureHu = rng.uniform(420, 520);
      break;
    case Scenario::HypertrophicNonunion:
      // Abundant, dense callus that never crosses the gap ("elephant foot").
      x.callusWeek = rng.uniform(2.5, 5.0);
      x.peakThicknessMm = rng.uniform(5.5, 8.0);
      x.matureHu = rng.uniform(850, 1000);
      break;
    case Scenario::PartialBridging:
      x.callusWeek = rng.uniform(2.5, 5.0);
      x.bridgeWeek = lags ? kNever : rng.uniform(8.0, 14.0);
      x.initialBridge = rng.uniform(0.3, 0.45);
      x.bridgeGrowthPerWeek = rng.uniform(0.0, 0.015);
      x.peakThicknessMm = rng.uniform(2.5, 4.0);
      x.matureHu = rng.uniform(750, 900);
      break;
    }
  }
  return t;
}

CortexState stateAt(const CortexTimeline& t, double weeks, double bridgeCentreDeg) {
  CortexState s;
  if (weeks < t.callusWeek) {
    return s;
  }
  // Callus mineralises over weeks after it appears (woven bone ~300 HU rising
  // toward the scenario's mature density).
  const double age = weeks - t.callusWeek;
  s.callusHu = 320.0 + (t.matureHu - 320.0) * (1.0 - std::exp(-age / 7.0));
  s.callusThicknessMm = t.peakThicknessMm * std::min(1.0, 0.55 + age / 12.0);
  s.category = CortexCategory::CallusVisibleLine;
  if (weeks >= t.remodelWeek) {
    // Remodelling: the collar shrinks and densifies, the line is gone.
    s.category = CortexCategory::Remodelled;
    s.bridgedFraction = 1.0;
    s.callusThicknessMm *= 0.5;
    s.callusHu = std::max(s.callusHu, 1050.0);
  } else if (weeks >= t.bridgeWeek) {
    s.category = CortexCategory::BridgingCallus;
    s.bridgedFraction =
        std::min(1.0, t.initialBridge + t.bridgeGrowthPerWeek * (weeks - t.bridgeWeek));
    // The bridged sub-arc stays inside the sector.
    const double halfFree = 45.0 * (1.0 - s.bridgedFraction);
    s.bridgeCentreDeg = std::clamp(bridgeCentreDeg, -halfFree, halfFree);
  }
  return s;
}

} // namespace

std::string_view scenarioName(Scenario scenario) {
  for (const ScenarioEntry& entry : kScenarios) {
    if (entry.scenario == scenario) {
      return entry.name;
    }
  }
  return "unknown";
}

std::optional<Scenario> scenarioFromName(std::string_view name) {
  for (const ScenarioEntry& entry : kScenarios) {
    if (entry.name == name) {
      return entry.scenario;
    }
  }
  return std::nullopt;
}

std::vector<std::string> scenarioNames() {
  std::vector<std::string> names;
  for (const ScenarioEntry& entry : kScenarios) {
    names.emplace_back(entry.name);
  }
  return names;
}

std::string_view implantName(Implant implant) {
  switch (implant) {
  case Implant::None:
    return "none";
  case Implant::Nail:
    return "nail";
  case Implant::Plate:
    return "plate";
  case Implant::ExternalFixator:
    return "external_fixator";
  }
  return "unknown";
}

constexpr Implant kImplants[] = {Implant::None, Implant::Nail, Implant::Plate,
                                 Implant::ExternalFixator};

std::optional<Implant> implantFromName(std::string_view name) {
  for (Implant implant : kImplants) {
    if (implantName(implant) == name) {
      return implant;
    }
  }
  return std::nullopt;
}

std::vector<std::string> implantNames() {
  std::vector<std::string> names;
  for (Implant implant : kImplants) {
    names.emplace_back(implantName(implant));
  }
  return names;
}

std::optional<SizePreset> sizeFromName(std::string_view name) {
  if (name == "small") {
    return SizePreset::Small;
  }
  if (name == "default") {
    return SizePreset::Default;
  }
  if (name == "large") {
    return SizePreset::Large;
  }
  return std::nullopt;
}

PatientSpec makePatientSpec(std::uint64_t seed, Scenario scenario, Implant implant, SizePreset size,
                            const std::vector<double>& visitWeeks) {
  Rng rng(seed, 1);
  PatientSpec spec;
  spec.seed = seed;
  spec.patientId = "PHANTOM-" + std::to_string(seed);
  spec.scenario = scenario;
  spec.implant = implant;
  spec.size = size;
  spec.laterality = rng.chance(0.5) ? 'R' : 'L';
  spec.fracture = rng.chance(0.5) ? FractureType::Oblique : FractureType::Transverse;
  spec.fractureObliquityDeg = spec.fracture == FractureType::Oblique ? rng.uniform(25, 40) : 0.0;
  spec.fractureAzimuthDeg = rng.uniform(0, 360);
  spec.gapMm = rng.uniform(1.8, 3.0);
  spec.shaftTiltAzimuthDeg = rng.uniform(0, 360);
  spec.tibiaRadiusMm = rng.uniform(10.0, 12.0);
  spec.cortexThicknessMm = rng.uniform(3.8, 5.0);
  spec.ctEncoding = rng.integer(0, 2);
  spec.monochrome1 = rng.chance(0.3);
  const auto round2 = [](double v) { return std::round(v * 100.0) / 100.0; };
  switch (size) {
  case SizePreset::Small:
    spec.voxels = {128, 128, 64};
    spec.spacingMm = {0.8, 0.8, 1.25};
    spec.shaftTiltDeg = rng.uniform(3, 7);
    break;
  case SizePreset::Default: {
    const double inPlane = round2(rng.uniform(0.55, 0.7));
    const double slices[] = {0.8, 1.0, 1.25};
    spec.voxels = {256, 256, 112};
    spec.spacingMm = {inPlane, inPlane, slices[rng.integer(0, 2)]};
    spec.shaftTiltDeg = rng.uniform(4, 12);
    break;
  }
  case SizePreset::Large: {
    const double inPlane = round2(rng.uniform(0.32, 0.4));
    spec.voxels = {512, 512, 200};
    spec.spacingMm = {inPlane, inPlane, rng.chance(0.5) ? 0.5 : 0.625};
    spec.shaftTiltDeg = rng.uniform(4, 12);
    break;
  }
  }
  const std::array<CortexTimeline, 4> timelines = scenarioTimelines(scenario, rng);
  std::array<double, 4> bridgeCentres{};
  for (double& centre : bridgeCentres) {
    centre = rng.uniform(-30, 30);
  }
  for (std::size_t v = 0; v < visitWeeks.size(); ++v) {
    VisitPlan visit;
    visit.weeks = visitWeeks[v];
    for (std::size_t c = 0; c < 4; ++c) {
      visit.cortices[c] = stateAt(timelines[c], visit.weeks, bridgeCentres[c]);
    }
    spec.visits.push_back(visit);
    // The limb lies differently at every visit: a few degrees, a few mm.
    const double rotation = v == 0 ? 1.0 : 3.0;
    const double shift = v == 0 ? 1.0 : 4.0;
    spec.visitPoses.push_back({rng.uniform(-rotation, rotation), rng.uniform(-rotation, rotation),
                               rng.uniform(-rotation, rotation), rng.uniform(-shift, shift),
                               rng.uniform(-shift, shift), rng.uniform(-shift, shift)});
  }
  return spec;
}

} // namespace unionscope::phantom
