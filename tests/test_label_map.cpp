// The opt-in Cartesian label map of the CT analysis: off by default, on the
// CT's grid when asked for, and its callus is the callus that is measured.

#include "unionscope/filters/CtUnionAnalysis.h"
#include "unionscope/sample_data/Phantom.h"

#include <gtest/gtest.h>
#include <oneapi/tbb/global_control.h>

#include <array>
#include <cstring>
#include <utility>

namespace {

using namespace unionscope;

std::array<std::size_t, 4> countLabels(const MaskImage& labels) {
  std::array<std::size_t, 4> counts{};
  const std::size_t n = labels.GetLargestPossibleRegion().GetNumberOfPixels();
  const std::uint8_t* value = labels.GetBufferPointer();
  for (std::size_t v = 0; v < n; ++v) {
    ++counts.at(value[v]);
  }
  return counts;
}

TEST(LabelMap, OffByDefault) {
  const phantom::PatientSpec spec = phantom::makePatientSpec(
      4, phantom::Scenario::NormalHealing, phantom::Implant::None, phantom::SizePreset::Small);
  const phantom::VisitVolume visit = phantom::renderVisitCt(spec, 1);
  const CtAnalysisResult result = analyzeCtUnion(*visit.hu, Laterality::Right);
  EXPECT_FALSE(result.labels);
}

TEST(LabelMap, CallusVoxelsMatchTheMeasuredVolumeAndMetalIsLabelled) {
  // Early thin callus (visit 0) is where voxel centres alone over-count.
  for (const auto& [implant, visitIndex] : {std::pair{phantom::Implant::None, std::size_t{0}},
                                            std::pair{phantom::Implant::None, std::size_t{1}},
                                            std::pair{phantom::Implant::Plate, std::size_t{1}}}) {
    const phantom::PatientSpec spec = phantom::makePatientSpec(7, phantom::Scenario::NormalHealing,
                                                               implant, phantom::SizePreset::Small);
    const phantom::VisitVolume visit = phantom::renderVisitCt(spec, visitIndex);
    CtAnalysisParameters parameters;
    parameters.produceLabelMap = true;
    const Laterality side = spec.laterality == 'R' ? Laterality::Right : Laterality::Left;
    const CtAnalysisResult result = analyzeCtUnion(*visit.hu, side, parameters);
    ASSERT_TRUE(result.fractureFound);
    ASSERT_TRUE(result.labels);
    const MaskImage& labels = *result.labels;
    EXPECT_EQ(labels.GetLargestPossibleRegion(), visit.hu->GetLargestPossibleRegion());
    EXPECT_EQ(labels.GetOrigin(), visit.hu->GetOrigin());
    EXPECT_EQ(labels.GetSpacing(), visit.hu->GetSpacing());
    EXPECT_EQ(labels.GetDirection(), visit.hu->GetDirection());
    for (const std::string& note : result.notes) {
      EXPECT_EQ(note.find("label map"), std::string::npos) << note;
    }

    const auto counts = countLabels(labels);
    const auto spacing = labels.GetSpacing();
    const double voxelMm3 = spacing[0] * spacing[1] * spacing[2];
    ASSERT_GT(result.callusVolumeMm3, 100.0);
    EXPECT_NEAR(counts[kLabelCallus] * voxelMm3, result.callusVolumeMm3,
                0.02 * result.callusVolumeMm3);
    EXPECT_GT(counts[kLabelBone], counts[kLabelCallus]);
    if (implant == phantom::Implant::None) {
      EXPECT_EQ(counts[kLabelMetal], 0U);
    } else {
      EXPECT_GT(counts[kLabelMetal], 0U);
    }
  }
}

TEST(LabelMap, SameLabelsWithOneThreadOrMany) {
  const phantom::PatientSpec spec = phantom::makePatientSpec(
      7, phantom::Scenario::NormalHealing, phantom::Implant::Plate, phantom::SizePreset::Small);
  const phantom::VisitVolume visit = phantom::renderVisitCt(spec, 1);
  CtAnalysisParameters parameters;
  parameters.produceLabelMap = true;
  const Laterality side = spec.laterality == 'R' ? Laterality::Right : Laterality::Left;
  CtAnalysisResult one;
  {
    oneapi::tbb::global_control single(oneapi::tbb::global_control::max_allowed_parallelism, 1);
    one = analyzeCtUnion(*visit.hu, side, parameters);
  }
  const CtAnalysisResult many = analyzeCtUnion(*visit.hu, side, parameters);
  ASSERT_TRUE(one.labels);
  ASSERT_TRUE(many.labels);
  const std::size_t n = one.labels->GetLargestPossibleRegion().GetNumberOfPixels();
  ASSERT_EQ(n, many.labels->GetLargestPossibleRegion().GetNumberOfPixels());
  EXPECT_EQ(std::memcmp(one.labels->GetBufferPointer(), many.labels->GetBufferPointer(), n), 0);
}

} // namespace
