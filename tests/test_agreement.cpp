// Agreement statistics against hand-computed and published values.

#include "unionscope/pipeline/Agreement.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace {

using unionscope::icc21;
using unionscope::quadraticWeightedKappa;

TEST(Agreement, KappaIsOneForPerfectAgreement) {
  EXPECT_DOUBLE_EQ(*quadraticWeightedKappa({{1, 1}, {2, 2}, {3, 3}, {4, 4}, {2, 2}}), 1.0);
}

TEST(Agreement, KappaMatchesAHandComputedExampleWithUniformMarginals) {
  // (1,1) (2,2) (3,4) (4,3), weights (i-j)^2/9. Observed disagreement: two
  // pairs one apart: (1 + 1) / 4 / 9. Both raters' marginals are uniform on
  // 1..4, so the expected disagreement is E[(X-Y)^2] / 9 = 2 Var(X) / 9 =
  // 2 * 1.25 / 9. Kappa = 1 - 0.5 / 2.5 = 0.8.
  EXPECT_NEAR(*quadraticWeightedKappa({{1, 1}, {2, 2}, {3, 4}, {4, 3}}), 0.8, 1e-12);
}

TEST(Agreement, KappaMatchesAHandComputedExampleWithUnequalMarginals) {
  // (1,1) (1,2) (2,2) (3,3) (3,3) (4,3): observed E[(X-Y)^2] = 2/6 = 1/3.
  // Rater A: mean 14/6, variance 11/9; rater B: mean 14/6, variance 5/9;
  // expected E[(X-Y)^2] = 11/9 + 5/9 + 0 = 16/9. Kappa = 1 - 3/16 = 13/16.
  EXPECT_NEAR(*quadraticWeightedKappa({{1, 1}, {1, 2}, {2, 2}, {3, 3}, {3, 3}, {4, 3}}),
              13.0 / 16.0, 1e-12);
}

TEST(Agreement, KappaIsUndefinedWithoutExpectedDisagreement) {
  EXPECT_FALSE(quadraticWeightedKappa({}));
  EXPECT_FALSE(quadraticWeightedKappa({{3, 3}, {3, 3}}));
  EXPECT_THROW((void)quadraticWeightedKappa({{0, 3}}), std::invalid_argument);
}

TEST(Agreement, Icc21MatchesShroutAndFleiss1979) {
  // Shrout & Fleiss (1979), Psychological Bulletin 86:420, Table 2: six
  // targets, four judges. Their Table 4 gives ICC(2,1) = .29 (BMS 11.24,
  // JMS 32.49, EMS 1.02: (11.24 - 1.02) / (11.24 + 3 * 1.02 + 4 * (32.49 -
  // 1.02) / 6) = 0.2898).
  const std::vector<std::vector<double>> ratings{{9, 2, 5, 8}, {6, 1, 3, 2},  {8, 4, 6, 8},
                                                 {7, 1, 2, 6}, {10, 5, 6, 9}, {6, 2, 4, 7}};
  EXPECT_NEAR(*icc21(ratings), 0.2898, 5e-4);
}

TEST(Agreement, IccIsOneForIdenticalRatersAndUndefinedWithoutVariance) {
  EXPECT_NEAR(*icc21({{4, 4}, {8, 8}, {12, 12}}), 1.0, 1e-12);
  EXPECT_FALSE(icc21({{5, 5}, {5, 5}}));
  EXPECT_FALSE(icc21({{5, 6}}));
}

TEST(Agreement, IccPenalisesASystematicOffset) {
  // Absolute agreement: a rater who always scores 2 higher agrees less than
  // a consistency ICC would say (that would be 1 here). n = 3, k = 2, rows
  // (4,6) (8,10) (12,14): BMS = 2 * (16 + 0 + 16) / 2 = 32, JMS = 3 * (1 + 1)
  // = 6, EMS = 0, so ICC = 32 / (32 + 0 + 2 * 6 / 3) = 32 / 36.
  EXPECT_NEAR(*icc21({{4, 6}, {8, 10}, {12, 14}}), 32.0 / 36.0, 1e-12);
}

} // namespace
