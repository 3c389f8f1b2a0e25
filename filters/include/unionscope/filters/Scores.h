#pragma once
// Per-cortex categories and the union scores built from them (DESIGN.md,
// "Anatomy and scores"). Pure functions: no images, no I/O.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace unionscope {

enum class Cortex { Anterior = 0, Posterior = 1, Medial = 2, Lateral = 3 };
inline constexpr std::array<Cortex, 4> kAllCortices{Cortex::Anterior, Cortex::Posterior,
                                                    Cortex::Medial, Cortex::Lateral};

/// Lower-case key used in report.json and truth.json ("anterior", ...).
std::string_view cortexKey(Cortex cortex);
std::optional<Cortex> cortexFromKey(std::string_view key);

/// Modified RUST category of one cortex (Litrenta et al. 2015).
enum class CortexCategory {
  NoCallus = 1,          ///< no callus
  CallusVisibleLine = 2, ///< callus present, fracture line visible
  BridgingCallus = 3,    ///< bridging callus, fracture line visible
  Remodelled = 4,        ///< remodelled, fracture line not visible
};

/// The score of one cortex as it appears in report.json: either a category or
/// a reason why the cortex could not be assessed.
struct CortexScore {
  std::optional<CortexCategory> category;
  std::optional<double> bridgedFraction; ///< CT only: bridged share of the arc, 0..1
  std::string notAssessable;             ///< non-empty exactly when category is empty

  [[nodiscard]] bool assessable() const { return category.has_value(); }
  /// A cortex is bridged when its category is 3 or 4.
  [[nodiscard]] bool bridged() const;
};

using CortexScores = std::array<CortexScore, 4>; ///< indexed by Cortex

/// Thresholds of the union rule. Every field is named and documented with its
/// default and where it comes from; callers change them, never the code.
struct UnionRuleParameters {
  /// Cortices that must be bridged for union. Default 3 of 4: the usual
  /// radiographic definition of union (Whelan et al. 2010; Litrenta et al. 2015).
  int minBridgedCortices = 3;
  /// RUST threshold reported beside the rule. RUST >= 10 is the most widely
  /// used cut-off for union in the literature (Whelan 2010; Leow et al. 2016).
  int rustUnionThreshold = 10;
  /// mRUST threshold reported beside the rule. mRUST >= 13 (Litrenta 2015;
  /// Frank et al. 2019 for femoral shaft union).
  int mrustUnionThreshold = 13;
  /// On CT a cortex counts as bridged when bridged_fraction reaches this share
  /// of its circumference. DESIGN.md default; one of four cortices bridged over
  /// a quarter of its arc is the smallest bridge readers reliably call.
  double ctBridgedFractionThreshold = 0.25;
};

/// Scores of one visit (or one series). The sums are present only when all
/// four cortices were assessed: a sum over fewer cortices is not a RUST score.
struct UnionScores {
  std::optional<int> rust;  ///< 4..12
  std::optional<int> mrust; ///< 4..16
  int assessedCortices = 0;
  int bridgedCortices = 0;
  /// The default union rule (minBridgedCortices); decided on the assessed
  /// cortices only when it is already certain whatever the others would be.
  std::optional<bool> union_;
  std::optional<bool> rustAtLeastThreshold;
  std::optional<bool> mrustAtLeastThreshold;
};

/// RUST merges categories 3 and 4: per cortex 1..3.
int rustPoints(CortexCategory category);
/// Modified RUST: per cortex 1..4.
int mrustPoints(CortexCategory category);

UnionScores computeUnionScores(const CortexScores& cortices,
                               const UnionRuleParameters& parameters = {});

} // namespace unionscope
