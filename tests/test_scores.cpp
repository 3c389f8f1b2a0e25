#include "unionscope/filters/Scores.h"

#include <gtest/gtest.h>

using namespace unionscope;

namespace {

CortexScores scores(std::initializer_list<int> categories) {
  CortexScores result;
  std::size_t i = 0;
  for (int c : categories) {
    if (c == 0) {
      result[i].notAssessable = "plate covers the cortex";
    } else {
      result[i].category = static_cast<CortexCategory>(c);
    }
    ++i;
  }
  return result;
}

} // namespace

TEST(Scores, RustMergesCategoriesThreeAndFour) {
  EXPECT_EQ(rustPoints(CortexCategory::NoCallus), 1);
  EXPECT_EQ(rustPoints(CortexCategory::CallusVisibleLine), 2);
  EXPECT_EQ(rustPoints(CortexCategory::BridgingCallus), 3);
  EXPECT_EQ(rustPoints(CortexCategory::Remodelled), 3);
  EXPECT_EQ(mrustPoints(CortexCategory::Remodelled), 4);
}

TEST(Scores, FullyRemodelledIsMaximal) {
  const UnionScores s = computeUnionScores(scores({4, 4, 4, 4}));
  EXPECT_EQ(s.rust, 12);
  EXPECT_EQ(s.mrust, 16);
  EXPECT_EQ(s.bridgedCortices, 4);
  EXPECT_EQ(s.union_, true);
}

TEST(Scores, NoCallusIsMinimal) {
  const UnionScores s = computeUnionScores(scores({1, 1, 1, 1}));
  EXPECT_EQ(s.rust, 4);
  EXPECT_EQ(s.mrust, 4);
  EXPECT_EQ(s.union_, false);
  EXPECT_EQ(s.rustAtLeastThreshold, false);
}

TEST(Scores, RustTenWithTwoBridgedCorticesIsNotUnionByTheDefaultRule) {
  // DESIGN.md: 3+3+2+2 is RUST 10 with only two cortices bridged.
  const UnionScores s = computeUnionScores(scores({3, 3, 2, 2}));
  EXPECT_EQ(s.rust, 10);
  EXPECT_EQ(s.mrust, 10);
  EXPECT_EQ(s.bridgedCortices, 2);
  EXPECT_EQ(s.union_, false);
  EXPECT_EQ(s.rustAtLeastThreshold, true);
  EXPECT_EQ(s.mrustAtLeastThreshold, false);
}

TEST(Scores, ThreeBridgedIsUnion) {
  const UnionScores s = computeUnionScores(scores({3, 4, 3, 2}));
  EXPECT_EQ(s.rust, 11);
  EXPECT_EQ(s.mrust, 12);
  EXPECT_EQ(s.union_, true);
  EXPECT_EQ(s.mrustAtLeastThreshold, false);
}

TEST(Scores, MissingCorticesGiveNoSumsButDecideUnionWhenCertain) {
  const UnionScores certainUnion = computeUnionScores(scores({3, 3, 4, 0}));
  EXPECT_FALSE(certainUnion.rust.has_value());
  EXPECT_FALSE(certainUnion.mrust.has_value());
  EXPECT_EQ(certainUnion.assessedCortices, 3);
  EXPECT_EQ(certainUnion.union_, true);

  const UnionScores undecided = computeUnionScores(scores({3, 2, 0, 0}));
  EXPECT_FALSE(undecided.union_.has_value());

  const UnionScores certainNonunion = computeUnionScores(scores({1, 2, 0, 2}));
  EXPECT_EQ(certainNonunion.union_, false);
}

TEST(Scores, RuleParametersAreHonoured) {
  UnionRuleParameters strict;
  strict.minBridgedCortices = 4;
  EXPECT_EQ(computeUnionScores(scores({3, 3, 3, 2}), strict).union_, false);
  EXPECT_EQ(computeUnionScores(scores({3, 3, 3, 3}), strict).union_, true);
}

TEST(Scores, CortexKeysRoundTrip) {
  for (Cortex cortex : kAllCortices) {
    EXPECT_EQ(cortexFromKey(cortexKey(cortex)), cortex);
  }
  EXPECT_FALSE(cortexFromKey("proximal").has_value());
}
