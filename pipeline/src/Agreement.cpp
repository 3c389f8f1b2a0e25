#include "unionscope/pipeline/Agreement.h"

#include "unionscope/filters/Scores.h"
#include "unionscope/pipeline/AnalysedPatient.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/Reads.h"
#include "unionscope/pipeline/Version.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cmath>
#include <map>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

/// What one rater said about one visit of one patient.
struct Rating {
  std::array<std::optional<int>, 4> categories;
  std::optional<int> rust;
  std::optional<int> mrust;
};

/// rater -> (patient folder index, visit label) -> rating
using Ratings = std::map<std::pair<std::size_t, std::string>, Rating>;

Rating ratingOf(const std::array<std::optional<int>, 4>& categories) {
  Rating rating;
  rating.categories = categories;
  CortexScores scores;
  for (std::size_t c = 0; c < 4; ++c) {
    if (categories[c]) {
      scores[c].category = static_cast<CortexCategory>(*categories[c]);
    } else {
      scores[c].notAssessable = "not assessable";
    }
  }
  const UnionScores union_ = computeUnionScores(scores);
  rating.rust = union_.rust;
  rating.mrust = union_.mrust;
  return rating;
}

double round4(double v) {
  return std::round(v * 10000.0) / 10000.0;
}

Json optionalNumber(const std::optional<double>& value) {
  return value ? Json(round4(*value)) : Json(nullptr);
}

Json kappaEntry(const Ratings& a, const Ratings& b, const std::vector<std::size_t>& cortices) {
  std::vector<std::pair<int, int>> pairs;
  int skipped = 0;
  int exact = 0;
  for (const auto& [key, ra] : a) {
    const auto found = b.find(key);
    if (found == b.end()) {
      continue;
    }
    for (std::size_t c : cortices) {
      const auto& x = ra.categories[c];
      const auto& y = found->second.categories[c];
      if (!x || !y) {
        ++skipped;
        continue;
      }
      pairs.emplace_back(*x, *y);
      exact += *x == *y ? 1 : 0;
    }
  }
  return {{"kappa", optionalNumber(quadraticWeightedKappa(pairs))},
          {"n", pairs.size()},
          {"skipped_not_assessable", skipped},
          {"exact_agreement",
           pairs.empty() ? Json(nullptr) : Json(round4(double(exact) / double(pairs.size())))}};
}

Json iccEntry(const std::vector<const Ratings*>& raters, bool mrust) {
  std::vector<std::vector<double>> rows;
  int skipped = 0;
  for (const auto& [key, first] : *raters.front()) {
    std::vector<double> row;
    bool complete = true;
    for (const Ratings* rater : raters) {
      const auto found = rater->find(key);
      const std::optional<int> score =
          found == rater->end() ? std::nullopt : (mrust ? found->second.mrust : found->second.rust);
      if (!score) {
        complete = false;
        break;
      }
      row.push_back(*score);
    }
    if (complete) {
      rows.push_back(row);
    } else {
      ++skipped;
    }
  }
  return {{"icc", rows.size() >= 2 ? optionalNumber(icc21(rows)) : Json(nullptr)},
          {"n", rows.size()},
          {"skipped_incomplete", skipped}};
}

Json pairJson(const std::string& nameA, const Ratings& a, const std::string& nameB,
              const Ratings& b) {
  Json kappa = Json::object();
  for (Cortex cortex : kAllCortices) {
    kappa[std::string(cortexKey(cortex))] = kappaEntry(a, b, {static_cast<std::size_t>(cortex)});
  }
  kappa["all_cortices"] = kappaEntry(a, b, {0, 1, 2, 3});
  return {{"a", nameA},
          {"b", nameB},
          {"kappa", kappa},
          {"icc", {{"rust", iccEntry({&a, &b}, false)}, {"mrust", iccEntry({&a, &b}, true)}}}};
}

std::string cell(const Json& value) {
  return value.is_null() ? std::string("-") : fmt::format("{:.3f}", value.get<double>());
}

} // namespace

std::optional<double> quadraticWeightedKappa(const std::vector<std::pair<int, int>>& pairs,
                                             int categories) {
  if (pairs.empty() || categories < 2) {
    return std::nullopt;
  }
  const auto k = static_cast<std::size_t>(categories);
  std::vector<double> observed(k * k, 0.0);
  std::vector<double> rows(k, 0.0);
  std::vector<double> columns(k, 0.0);
  const double n = static_cast<double>(pairs.size());
  for (const auto& [x, y] : pairs) {
    if (x < 1 || y < 1 || x > categories || y > categories) {
      throw std::invalid_argument(fmt::format("category {} or {} outside 1..{}", x, y, categories));
    }
    observed[(x - 1) * k + (y - 1)] += 1.0 / n;
    rows[x - 1] += 1.0 / n;
    columns[y - 1] += 1.0 / n;
  }
  double disagreementObserved = 0;
  double disagreementExpected = 0;
  for (std::size_t i = 0; i < k; ++i) {
    for (std::size_t j = 0; j < k; ++j) {
      const double d = static_cast<double>(i) - static_cast<double>(j);
      const double w = d * d / ((categories - 1.0) * (categories - 1.0));
      disagreementObserved += w * observed[i * k + j];
      disagreementExpected += w * rows[i] * columns[j];
    }
  }
  if (disagreementExpected <= 0) {
    return std::nullopt;
  }
  return 1.0 - disagreementObserved / disagreementExpected;
}

std::optional<double> icc21(const std::vector<std::vector<double>>& ratings) {
  const std::size_t n = ratings.size();
  if (n < 2 || ratings.front().size() < 2) {
    return std::nullopt;
  }
  const std::size_t k = ratings.front().size();
  double grand = 0;
  std::vector<double> rowMean(n, 0.0);
  std::vector<double> columnMean(k, 0.0);
  for (std::size_t i = 0; i < n; ++i) {
    if (ratings[i].size() != k) {
      throw std::invalid_argument("every subject needs a rating from every rater");
    }
    for (std::size_t j = 0; j < k; ++j) {
      rowMean[i] += ratings[i][j] / double(k);
      columnMean[j] += ratings[i][j] / double(n);
      grand += ratings[i][j] / double(n * k);
    }
  }
  double ssRows = 0;
  double ssColumns = 0;
  double ssTotal = 0;
  for (std::size_t i = 0; i < n; ++i) {
    ssRows += double(k) * (rowMean[i] - grand) * (rowMean[i] - grand);
    for (std::size_t j = 0; j < k; ++j) {
      ssTotal += (ratings[i][j] - grand) * (ratings[i][j] - grand);
    }
  }
  for (std::size_t j = 0; j < k; ++j) {
    ssColumns += double(n) * (columnMean[j] - grand) * (columnMean[j] - grand);
  }
  const double ssError = ssTotal - ssRows - ssColumns;
  const double msRows = ssRows / double(n - 1);
  const double msColumns = ssColumns / double(k - 1);
  const double msError = ssError / double((n - 1) * (k - 1));
  const double denominator =
      msRows + double(k - 1) * msError + double(k) * (msColumns - msError) / double(n);
  if (std::abs(denominator) < 1e-12) {
    return std::nullopt;
  }
  return (msRows - msError) / denominator;
}

Json agreementJson(const std::vector<fs::path>& directories) {
  if (directories.empty()) {
    throw UsageError("agreement needs at least one analysed patient's folder");
  }
  std::map<std::string, Ratings> readers;
  Ratings algorithm;
  int reads = 0;
  int readsOfAnotherReport = 0;
  int visits = 0;
  for (std::size_t d = 0; d < directories.size(); ++d) {
    const AnalysedPatient patient = loadAnalysedPatient(directories[d]);
    for (const AnalysedVisit& visit : patient.visits) {
      if (!visit.scored) {
        continue;
      }
      ++visits;
      std::array<std::optional<int>, 4> categories;
      for (std::size_t c = 0; c < 4; ++c) {
        categories[c] = visit.cortices[c].category;
      }
      algorithm[{d, visit.label}] = ratingOf(categories);
    }
    for (const ReaderRead& read : loadLatestReads(directories[d])) {
      ++reads;
      if (!read.reportSha256.empty() && read.reportSha256 != patient.reportSha256) {
        // The algorithm's side comes from today's report.json; the reader's
        // accepted categories from the one they read.
        ++readsOfAnotherReport;
        spdlog::warn("{}: {}'s read was made against another report.json (re-analysed since)",
                     directories[d].string(), read.reader);
      }
      for (const VisitRead& visit : read.visits) {
        std::array<std::optional<int>, 4> categories;
        for (std::size_t c = 0; c < 4; ++c) {
          categories[c] = visit.cortices[c].reader;
        }
        readers[read.reader][{d, visit.label}] = ratingOf(categories);
      }
    }
  }
  Json names = Json::array({"algorithm"});
  for (const auto& [name, ratings] : readers) {
    names.push_back(name);
  }
  Json pairs = Json::array();
  for (auto a = readers.begin(); a != readers.end(); ++a) {
    for (auto b = std::next(a); b != readers.end(); ++b) {
      pairs.push_back(pairJson(a->first, a->second, b->first, b->second));
    }
  }
  for (const auto& [name, ratings] : readers) {
    pairs.push_back(pairJson(name, ratings, "algorithm", algorithm));
  }
  Json allReaders = nullptr;
  if (readers.size() >= 2) {
    std::vector<const Ratings*> raters;
    for (const auto& [name, ratings] : readers) {
      raters.push_back(&ratings);
    }
    allReaders = {{"rust", iccEntry(raters, false)}, {"mrust", iccEntry(raters, true)}};
  }
  return {{"schema", "unionscope.agreement/1"},
          {"software", {{"name", kSoftwareName}, {"version", kVersion}}},
          {"patients", directories.size()},
          {"visits_scored_by_algorithm", visits},
          {"reads", reads},
          {"reads_of_another_report", readsOfAnotherReport},
          {"raters", names},
          {"methods",
           {{"kappa", "Cohen's weighted kappa, quadratic weights, over the modified RUST cortex "
                      "categories 1-4; (patient, visit) pairs where either rater called the cortex "
                      "not assessable are skipped and counted"},
            {"icc", "ICC(2,1) (Shrout & Fleiss 1979): two-way random effects, absolute agreement, "
                    "single rater; visits without a complete score from every rater are skipped"},
            {"reads", "the latest version of each reader's read per patient"}}},
          {"pairs", pairs},
          {"icc_all_readers", allReaders}};
}

std::string agreementCsv(const Json& agreement) {
  std::string csv = "rater_a,rater_b,statistic,measure,value,n,skipped,exact_agreement\n";
  for (const Json& pair : agreement["pairs"]) {
    const std::string raters =
        csvQuote(pair["a"].get<std::string>()) + "," + csvQuote(pair["b"].get<std::string>());
    for (const auto& [measure, entry] : pair["kappa"].items()) {
      csv += fmt::format("{},quadratic_weighted_kappa,{},{},{},{},{}\n", raters, measure,
                         entry["kappa"].is_null() ? "" : entry["kappa"].dump(), entry["n"].dump(),
                         entry["skipped_not_assessable"].dump(),
                         entry["exact_agreement"].is_null() ? "" : entry["exact_agreement"].dump());
    }
    for (const auto& [measure, entry] : pair["icc"].items()) {
      csv += fmt::format("{},icc_2_1,{},{},{},{},\n", raters, measure,
                         entry["icc"].is_null() ? "" : entry["icc"].dump(), entry["n"].dump(),
                         entry["skipped_incomplete"].dump());
    }
  }
  return csv;
}

std::string agreementTable(const Json& agreement) {
  std::string table = fmt::format(
      "{} patients, {} reads. Kappa: quadratic-weighted, per cortex (n pairs, skipped not "
      "assessable). ICC(2,1): absolute agreement, single rater.\n",
      agreement["patients"].get<int>(), agreement["reads"].get<int>());
  table +=
      fmt::format("{:<32} {:>14} {:>14} {:>14} {:>14} {:>14} {:>12} {:>12}\n", "pair", "anterior",
                  "posterior", "medial", "lateral", "all", "ICC RUST", "ICC mRUST");
  for (const Json& pair : agreement["pairs"]) {
    std::string row = fmt::format(
        "{:<32}",
        (pair["a"].get<std::string>() + " / " + pair["b"].get<std::string>()).substr(0, 32));
    for (const char* key : {"anterior", "posterior", "medial", "lateral", "all_cortices"}) {
      const Json& k = pair["kappa"][key];
      row += fmt::format(" {:>14}", fmt::format("{} ({},{})", cell(k["kappa"]), k["n"].get<int>(),
                                                k["skipped_not_assessable"].get<int>()));
    }
    for (const char* key : {"rust", "mrust"}) {
      const Json& i = pair["icc"][key];
      row += fmt::format(" {:>12}", fmt::format("{} ({})", cell(i["icc"]), i["n"].get<int>()));
    }
    table += row + "\n";
  }
  if (agreement["pairs"].empty()) {
    table += "(no reads found in the folders' reads/)\n";
  }
  return table;
}

} // namespace unionscope
