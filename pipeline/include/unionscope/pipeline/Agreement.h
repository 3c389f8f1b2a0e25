#pragma once
// Agreement between readers, and between each reader and the algorithm, over
// analysed patients' reads (DIR/reads/): the numbers an imaging core lab
// reports for a reader study.
//  - Per cortex: Cohen's kappa with quadratic weights over the modified RUST
//    categories 1..4 (Cohen 1968; quadratic weights as in Fleiss & Cohen
//    1973), on the (patient, visit) pairs both raters scored; pairs where
//    either called the cortex not assessable are skipped and counted.
//  - RUST and mRUST: ICC(2,1) of Shrout & Fleiss (1979), the two-way random
//    effects model, absolute agreement, single rater (McGraw & Wong 1996:
//    ICC(A,1)); on the visits both raters gave a complete score.

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace unionscope {

/// Quadratic-weighted Cohen's kappa of paired categories 1..`categories`.
/// Empty when undefined (no pairs, or no expected disagreement: both raters
/// used one and the same category throughout).
std::optional<double> quadraticWeightedKappa(const std::vector<std::pair<int, int>>& pairs,
                                             int categories = 4);

/// ICC(2,1): `ratings[subject][rater]`, every row the same length (>= 2
/// raters), at least 2 subjects. Empty when undefined (no variance at all).
std::optional<double> icc21(const std::vector<std::vector<double>>& ratings);

/// The agreement of every reader found in the folders' reads/ with every
/// other and with the algorithm (report.json). Throws UsageError naming the
/// file when a folder is not an analysed patient or a read is corrupt.
nlohmann::ordered_json agreementJson(const std::vector<std::filesystem::path>& directories);

/// One row per pair and measure (kappa per cortex, ICC per score).
std::string agreementCsv(const nlohmann::ordered_json& agreement);

/// A short table for the console.
std::string agreementTable(const nlohmann::ordered_json& agreement);

} // namespace unionscope
