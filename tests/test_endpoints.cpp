#include "unionscope/filters/Endpoints.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace unionscope;

TEST(Endpoints, ClopperPearsonMatchesPublishedIntervals) {
  // Reference values: exact binomial intervals (e.g. R's binom.test).
  const Proportion half = clopperPearson(5, 10);
  EXPECT_NEAR(half.estimate, 0.5, 1e-12);
  EXPECT_NEAR(half.lower, 0.1871, 1e-4);
  EXPECT_NEAR(half.upper, 0.8129, 1e-4);
  const Proportion three = clopperPearson(3, 4);
  EXPECT_NEAR(three.lower, 0.1941, 1e-4);
  EXPECT_NEAR(three.upper, 0.9937, 1e-4);
  const Proportion none = clopperPearson(0, 10);
  EXPECT_EQ(none.lower, 0.0);
  EXPECT_NEAR(none.upper, 0.3085, 1e-4);
  const Proportion all = clopperPearson(10, 10);
  EXPECT_NEAR(all.lower, 0.6915, 1e-4);
  EXPECT_EQ(all.upper, 1.0);
  const Proportion empty = clopperPearson(0, 0);
  EXPECT_EQ(empty.total, 0);
  EXPECT_THROW(clopperPearson(3, 2), std::invalid_argument);
}

TEST(Endpoints, TurnbullPutsMassOnTheInnermostIntervals) {
  const double inf = std::numeric_limits<double>::infinity();
  const TurnbullEstimate estimate = turnbull({{6, 12}, {12, 24}, {6, 12}, {24, inf}});
  ASSERT_TRUE(estimate.converged);
  ASSERT_EQ(estimate.masses.size(), 3U);
  EXPECT_EQ(estimate.masses[0].left, 6);
  EXPECT_EQ(estimate.masses[0].right, 12);
  EXPECT_NEAR(estimate.masses[0].probability, 0.5, 1e-9);
  EXPECT_NEAR(estimate.masses[1].probability, 0.25, 1e-9);
  EXPECT_NEAR(estimate.masses[2].probability, 0.25, 1e-9);
  EXPECT_NEAR(estimate.survivalAfter(12), 0.5, 1e-9);
  EXPECT_NEAR(estimate.survivalAfter(24), 0.25, 1e-9);
}

TEST(Endpoints, TurnbullSharesMassBetweenOverlappingIntervals) {
  // (0,12] overlaps (6,12] and (6,24]: the NPMLE puts all mass on (6,12].
  const TurnbullEstimate estimate = turnbull({{0, 12}, {6, 12}, {6, 24}});
  ASSERT_EQ(estimate.masses.size(), 1U);
  EXPECT_EQ(estimate.masses[0].left, 6);
  EXPECT_EQ(estimate.masses[0].right, 12);
  EXPECT_NEAR(estimate.masses[0].probability, 1.0, 1e-9);
  EXPECT_THROW(turnbull({{5, 5}}), std::invalid_argument);
}
