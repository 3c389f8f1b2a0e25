#include "unionscope/filters/Scores.h"

namespace unionscope {

std::string_view cortexKey(Cortex cortex) {
  switch (cortex) {
  case Cortex::Anterior:
    return "anterior";
  case Cortex::Posterior:
    return "posterior";
  case Cortex::Medial:
    return "medial";
  case Cortex::Lateral:
    return "lateral";
  }
  return "unknown";
}

std::optional<Cortex> cortexFromKey(std::string_view key) {
  for (Cortex cortex : kAllCortices) {
    if (cortexKey(cortex) == key) {
      return cortex;
    }
  }
  return std::nullopt;
}

bool CortexScore::bridged() const {
  return category == CortexCategory::BridgingCallus || category == CortexCategory::Remodelled;
}

int rustPoints(CortexCategory category) {
  return category == CortexCategory::Remodelled ? 3 : static_cast<int>(category);
}

int mrustPoints(CortexCategory category) {
  return static_cast<int>(category);
}

UnionScores computeUnionScores(const CortexScores& cortices,
                               const UnionRuleParameters& parameters) {
  UnionScores scores;
  int rust = 0;
  int mrust = 0;
  for (const CortexScore& cortex : cortices) {
    if (!cortex.assessable()) {
      continue;
    }
    ++scores.assessedCortices;
    scores.bridgedCortices += cortex.bridged() ? 1 : 0;
    rust += rustPoints(*cortex.category);
    mrust += mrustPoints(*cortex.category);
  }
  const int total = static_cast<int>(cortices.size());
  const int unassessed = total - scores.assessedCortices;
  if (unassessed == 0) {
    scores.rust = rust;
    scores.mrust = mrust;
    scores.rustAtLeastThreshold = rust >= parameters.rustUnionThreshold;
    scores.mrustAtLeastThreshold = mrust >= parameters.mrustUnionThreshold;
  }
  // With cortices missing the rule is still decided when the outcome cannot
  // change: enough bridged already, or too few even if all missing ones bridged.
  if (scores.bridgedCortices >= parameters.minBridgedCortices) {
    scores.union_ = true;
  } else if (scores.bridgedCortices + unassessed < parameters.minBridgedCortices) {
    scores.union_ = false;
  }
  return scores;
}

} // namespace unionscope
