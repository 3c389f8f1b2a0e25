#include "TestSupport.h"
#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/sample_data/Phantom.h"

#include <oneapi/tbb/global_control.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

using namespace unionscope;
using namespace unionscope::phantom;

namespace {

struct Tally {
  int confusion[4][4] = {}; ///< truth x measured, categories 1..4
  int cortices = 0, agree = 0, unionAgree = 0, visits = 0, notAssessable = 0, planesFound = 0;
  std::vector<double> fractionErrors;
  std::vector<double> volumeErrors;

  [[nodiscard]] double quadraticKappa() const {
    double n = 0;
    double rows[4] = {}, cols[4] = {};
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        n += confusion[i][j];
        rows[i] += confusion[i][j];
        cols[j] += confusion[i][j];
      }
    }
    double observed = 0, expected = 0;
    for (int i = 0; i < 4; ++i) {
      for (int j = 0; j < 4; ++j) {
        const double w = (i - j) * (i - j) / 9.0;
        observed += w * confusion[i][j];
        expected += w * rows[i] * cols[j] / n;
      }
    }
    return expected > 0 ? 1.0 - observed / expected : 1.0;
  }
};

double medianOf(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

Laterality laterality(char c) {
  return c == 'R' ? Laterality::Right : Laterality::Left;
}

void evaluate(const PatientSpec& spec, Tally& tally, bool verbose) {
  for (std::size_t v = 0; v < spec.visits.size(); ++v) {
    const VisitVolume visit = renderVisitCt(spec, v);
    const CtAnalysisResult result = analyzeCtUnion(*visit.hu, laterality(spec.laterality));
    ++tally.visits;
    {
      // The fracture plane against the truth: within 1.5 mm and 10 degrees.
      const auto& c = result.fractureCentre;
      const auto& n = result.fractureNormal;
      const auto& tc = visit.fractureCenter;
      const auto& tn = visit.fractureNormal;
      const double offset =
          (c[0] - tc[0]) * tn[0] + (c[1] - tc[1]) * tn[1] + (c[2] - tc[2]) * tn[2];
      const double angle =
          std::acos(std::min(1.0, std::abs(n[0] * tn[0] + n[1] * tn[1] + n[2] * tn[2]))) * 180 /
          M_PI;
      tally.planesFound += result.fractureFound && std::abs(offset) <= 1.5 && angle <= 10 ? 1 : 0;
    }
    CortexScores truth;
    for (std::size_t c = 0; c < 4; ++c) {
      const CortexState& expected = spec.visits[v].cortices[c];
      truth[c].category = expected.category;
      const CortexScore& got = result.cortices[c].score;
      ++tally.cortices;
      if (!got.category) {
        ++tally.notAssessable;
        continue;
      }
      const int t = static_cast<int>(expected.category) - 1;
      const int m = static_cast<int>(*got.category) - 1;
      tally.confusion[t][m]++;
      tally.agree += t == m ? 1 : 0;
      tally.fractionErrors.push_back(
          std::abs(got.bridgedFraction.value_or(0) - expected.bridgedFraction));
      if (verbose && t != m) {
        std::printf(
            "  seed %llu %s/%s W%.0f %s: truth %d (f %.2f) measured %d (f %.2f, callus %.0f mm3)\n",
            static_cast<unsigned long long>(spec.seed),
            std::string(scenarioName(spec.scenario)).c_str(),
            std::string(implantName(spec.implant)).c_str(), spec.visits[v].weeks,
            std::string(cortexKey(static_cast<Cortex>(c))).c_str(), t + 1, expected.bridgedFraction,
            m + 1, got.bridgedFraction.value_or(-1), result.cortices[c].callusVolumeMm3);
      }
    }
    const bool truthUnion = computeUnionScores(truth).union_.value_or(false);
    tally.unionAgree += result.scores.union_.value_or(false) == truthUnion ? 1 : 0;
    if (visit.callusVolumeMm3 > 300) {
      tally.volumeErrors.push_back(std::abs(result.callusVolumeMm3 - visit.callusVolumeMm3) /
                                   visit.callusVolumeMm3);
    }
    if (verbose &&
        std::abs(result.callusVolumeMm3 - visit.callusVolumeMm3) > 0.15 * visit.callusVolumeMm3) {
      std::printf("  seed %llu W%.0f callus %.0f vs truth %.0f\n",
                  static_cast<unsigned long long>(spec.seed), spec.visits[v].weeks,
                  result.callusVolumeMm3, visit.callusVolumeMm3);
    }
  }
}

void report(const Tally& t) {
  std::printf("visits %d (fracture plane within 1.5 mm / 10 deg: %d), cortices %d, agreement %.3f, "
              "kappa %.3f, "
              "union agreement %.3f, not assessable %d\n",
              t.visits, t.planesFound, t.cortices, double(t.agree) / (t.cortices - t.notAssessable),
              t.quadraticKappa(), double(t.unionAgree) / t.visits, t.notAssessable);
  std::printf("median |bridged_fraction error| %.3f, median callus volume error %.3f\n",
              medianOf(t.fractionErrors), medianOf(t.volumeErrors));
  std::printf("confusion (rows truth 1-4, columns measured 1-4):\n");
  for (const auto& row : t.confusion) {
    std::printf("  %4d %4d %4d %4d\n", row[0], row[1], row[2], row[3]);
  }
}

constexpr Scenario kScenarios[] = {Scenario::NormalHealing, Scenario::DelayedUnion,
                                   Scenario::AtrophicNonunion, Scenario::HypertrophicNonunion,
                                   Scenario::PartialBridging};

} // namespace

TEST(CtAnalysis, AgreesWithPhantomTruthAcrossScenariosImplantsAndSides) {
  Tally tally;
  std::uint64_t seed = 100;
  for (const Scenario scenario : kScenarios) {
    for (const Implant implant : {Implant::None, Implant::Nail, Implant::Plate}) {
      evaluate(makePatientSpec(seed++, scenario, implant, SizePreset::Small), tally, true);
    }
  }
  report(tally);
  // Issue 5's targets.
  const int assessed = tally.cortices - tally.notAssessable;
  EXPECT_GE(tally.planesFound, tally.visits * 9 / 10);
  EXPECT_GE(double(tally.agree) / assessed, 0.9);
  EXPECT_GE(tally.quadraticKappa(), 0.9);
  EXPECT_GE(double(tally.unionAgree) / tally.visits, 0.95);
  EXPECT_LE(medianOf(tally.fractionErrors), 0.15);
  EXPECT_LE(medianOf(tally.volumeErrors), 0.15);
  EXPECT_LE(tally.notAssessable, tally.cortices / 10);
}

TEST(CtAnalysis, AgreesWithPhantomTruthAtClinicalResolution) {
  // 0.55-0.7 mm in plane, 0.8-1.25 mm slices: one patient per scenario.
  Tally tally;
  const Implant implants[] = {Implant::Plate, Implant::None, Implant::Nail, Implant::None,
                              Implant::Plate};
  for (std::size_t i = 0; i < 5; ++i) {
    evaluate(makePatientSpec(200 + i, kScenarios[i], implants[i], SizePreset::Default), tally,
             true);
  }
  report(tally);
  const int assessed = tally.cortices - tally.notAssessable;
  EXPECT_GE(tally.planesFound, tally.visits * 9 / 10);
  EXPECT_GE(double(tally.agree) / assessed, 0.9);
  EXPECT_GE(double(tally.unionAgree) / tally.visits, 0.9);
  EXPECT_LE(medianOf(tally.volumeErrors), 0.15);
}

TEST(CtAnalysis, AgreesWithPhantomTruthWithAnExternalFixator) {
  // Pins through both cortices of each fragment and a rod in front of the
  // limb, in the volume with their streaks: one patient per scenario.
  // Guarded at today's level: on this small preset the rod stands 1 cm off
  // the skin, a few cm from the tibia, and the streaks of the rod and the
  // clamps lift soft tissue to callus densities and darken bone. The
  // fracture plane is found on 11 of 15 visits, categories agree on 0.63
  // (0.93 without a frame), union on 0.87, and the callus volume's median
  // error is 0.27 (0.13 without a frame). These five patients are the
  // hardest of their kind: on 20 more (seeds 410-429) agreement is 0.79
  // and union 0.93 (docs/ct-analysis.md).
  Tally tally;
  std::uint64_t seed = 400;
  for (const Scenario scenario : kScenarios) {
    evaluate(makePatientSpec(seed++, scenario, Implant::ExternalFixator, SizePreset::Small), tally,
             true);
  }
  report(tally);
  const int assessed = tally.cortices - tally.notAssessable;
  EXPECT_GE(tally.planesFound, 11);
  EXPECT_GE(double(tally.agree) / assessed, 0.6);
  EXPECT_GE(double(tally.unionAgree) / tally.visits, 0.8);
  EXPECT_LE(medianOf(tally.volumeErrors), 0.3);
  EXPECT_LE(tally.notAssessable, tally.cortices / 10);
}

TEST(CtAnalysis, ResultsAreIdenticalWhateverTheThreadCount) {
  const PatientSpec spec =
      makePatientSpec(7, Scenario::PartialBridging, Implant::Nail, SizePreset::Small, {12});
  const VisitVolume visit = renderVisitCt(spec, 0);
  CtAnalysisResult one;
  {
    oneapi::tbb::global_control single(oneapi::tbb::global_control::max_allowed_parallelism, 1);
    one = analyzeCtUnion(*visit.hu, laterality(spec.laterality));
  }
  const CtAnalysisResult many = analyzeCtUnion(*visit.hu, laterality(spec.laterality));
  EXPECT_EQ(one.callusVolumeMm3, many.callusVolumeMm3);
  EXPECT_EQ(one.callusMeanHu, many.callusMeanHu);
  EXPECT_EQ(one.torsionalRigidityRatio, many.torsionalRigidityRatio);
  EXPECT_EQ(one.fractureCentre, many.fractureCentre);
  for (std::size_t c = 0; c < 4; ++c) {
    EXPECT_EQ(one.cortices[c].score.category, many.cortices[c].score.category);
    EXPECT_EQ(one.cortices[c].score.bridgedFraction, many.cortices[c].score.bridgedFraction);
  }
}

TEST(CtAnalysis, UnknownLateralityLeavesMedialAndLateralUnnamed) {
  const PatientSpec spec =
      makePatientSpec(8, Scenario::NormalHealing, Implant::None, SizePreset::Small, {24});
  const VisitVolume visit = renderVisitCt(spec, 0);
  const CtAnalysisResult result = analyzeCtUnion(*visit.hu, Laterality::Unknown);
  EXPECT_FALSE(result.cortices[static_cast<std::size_t>(Cortex::Medial)].score.assessable());
  EXPECT_NE(result.cortices[static_cast<std::size_t>(Cortex::Lateral)].score.notAssessable.find(
                "laterality"),
            std::string::npos);
  EXPECT_TRUE(result.cortices[static_cast<std::size_t>(Cortex::Anterior)].score.assessable());
}

TEST(CtAnalysis, AVolumeWithoutBoneIsRefusedWithAReason) {
  auto air = CtImage::New();
  CtImage::RegionType region;
  region.SetSize({{32, 32, 32}});
  air->SetRegions(region);
  air->Allocate();
  air->FillBuffer(-1000);
  EXPECT_THROW(analyzeCtUnion(*air, Laterality::Right), std::runtime_error);
}

TEST(CtAnalysis, AUserHintFarFromTheFoundFractureWins) {
  const PatientSpec spec =
      makePatientSpec(9, Scenario::DelayedUnion, Implant::None, SizePreset::Small, {12});
  const VisitVolume visit = renderVisitCt(spec, 0);
  const CtAnalysisResult found = analyzeCtUnion(*visit.hu, laterality(spec.laterality));
  CtAnalysisParameters hinted;
  hinted.fractureHint = std::array<double, 3>{found.fractureCentre[0], found.fractureCentre[1],
                                              found.fractureCentre[2] + 20.0};
  const CtAnalysisResult result = analyzeCtUnion(*visit.hu, laterality(spec.laterality), hinted);
  EXPECT_GT(std::abs(result.fractureCentre[2] - found.fractureCentre[2]), 15.0);
  ASSERT_FALSE(result.notes.empty());
  EXPECT_NE(result.notes.back().find("hint"), std::string::npos);
  // A hint close to what the CT shows changes nothing.
  hinted.fractureHint = found.fractureCentre;
  EXPECT_EQ(analyzeCtUnion(*visit.hu, laterality(spec.laterality), hinted).fractureCentre,
            found.fractureCentre);
}
