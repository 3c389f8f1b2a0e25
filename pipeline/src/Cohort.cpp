#include "unionscope/pipeline/Cohort.h"

#include "unionscope/filters/Endpoints.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/Version.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

std::vector<fs::path> findReports(const std::vector<fs::path>& inputs) {
  std::set<fs::path> reports;
  for (const fs::path& input : inputs) {
    std::error_code error;
    if (fs::is_regular_file(input, error)) {
      reports.insert(input);
    } else if (fs::is_directory(input, error)) {
      for (fs::recursive_directory_iterator
               it(input, fs::directory_options::skip_permission_denied, error),
           end;
           !error && it != end; it.increment(error)) {
        if (it->is_regular_file() && it->path().filename() == "report.json") {
          reports.insert(it->path());
        }
      }
    }
  }
  return {reports.begin(), reports.end()};
}

struct Visit {
  std::string label;
  double weeks = 0;
  std::optional<bool> union_;
};

struct Patient {
  std::string id;
  fs::path report;
  std::vector<Visit> visits; ///< in time order
};

double round4(double v) {
  return std::round(v * 1e4) / 1e4;
}

/// Cumulative probability of union over weeks, as a step plot.
void plotTimeToUnion(const TurnbullEstimate& estimate, double lastWeek, const fs::path& png) {
  constexpr int kWidth = 640, kHeight = 400, kMargin = 50;
  cv::Mat image(kHeight, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  const double maxWeek = std::max(1.0, lastWeek * 1.1);
  const auto x = [&](double weeks) {
    return kMargin + static_cast<int>(weeks / maxWeek * (kWidth - 2 * kMargin));
  };
  const auto y = [&](double p) {
    return kHeight - kMargin - static_cast<int>(p * (kHeight - 2 * kMargin));
  };
  cv::line(image, {kMargin, y(0)}, {kWidth - kMargin, y(0)}, cv::Scalar(0, 0, 0));
  cv::line(image, {kMargin, y(0)}, {kMargin, y(1)}, cv::Scalar(0, 0, 0));
  for (int p = 0; p <= 4; ++p) {
    cv::putText(image, fmt::format("{:.2f}", p / 4.0), {4, y(p / 4.0) + 4},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0));
  }
  for (int w = 0; w <= static_cast<int>(maxWeek); w += std::max(1, static_cast<int>(maxWeek / 8))) {
    cv::putText(image, std::to_string(w), {x(w) - 6, kHeight - kMargin + 18},
                cv::FONT_HERSHEY_SIMPLEX, 0.4, cv::Scalar(0, 0, 0));
  }
  cv::putText(image, "weeks", {kWidth / 2 - 20, kHeight - 10}, cv::FONT_HERSHEY_SIMPLEX, 0.5,
              cv::Scalar(0, 0, 0));
  cv::putText(image, "cumulative probability of union (Turnbull)", {kMargin, 25},
              cv::FONT_HERSHEY_SIMPLEX, 0.5, cv::Scalar(0, 0, 0));
  double cumulative = 0;
  double previousWeek = 0;
  for (const TurnbullMass& m : estimate.masses) {
    if (!std::isfinite(m.right)) {
      continue;
    }
    // The mass may lie anywhere in (left, right]: shade the interval.
    cv::line(image, {x(previousWeek), y(cumulative)}, {x(m.left), y(cumulative)},
             cv::Scalar(160, 60, 20), 2);
    cv::rectangle(image, {x(m.left), y(cumulative + m.probability)}, {x(m.right), y(cumulative)},
                  cv::Scalar(230, 200, 170), cv::FILLED);
    cumulative += m.probability;
    previousWeek = m.right;
  }
  cv::line(image, {x(previousWeek), y(cumulative)}, {x(maxWeek), y(cumulative)},
           cv::Scalar(160, 60, 20), 2);
  cv::imwrite(png.string(), image);
}

} // namespace

CohortOutcome computeCohort(const CohortOptions& options) {
  const std::vector<fs::path> reports = findReports(options.inputs);
  if (reports.empty()) {
    throw UsageError("no report.json found under the given paths (run 'unionscope analyze' first)");
  }
  std::vector<Patient> patients;
  Json skipped = Json::array();
  for (const fs::path& path : reports) {
    try {
      std::ifstream in(path);
      const Json report = Json::parse(in);
      if (report.value("schema", "") != "unionscope.report/1") {
        throw std::runtime_error("not a unionscope.report/1 document");
      }
      Patient patient;
      patient.id = report.value("patient_id", "");
      patient.report = path;
      for (const Json& tp : report.at("timepoints")) {
        Visit visit;
        visit.label = tp.at("label").get<std::string>();
        visit.weeks = tp.at("weeks").is_number() ? tp.at("weeks").get<double>() : std::nan("");
        if (tp.contains("union") && tp.at("union").is_boolean()) {
          visit.union_ = tp.at("union").get<bool>();
        }
        patient.visits.push_back(visit);
      }
      std::stable_sort(patient.visits.begin(), patient.visits.end(),
                       [](const Visit& a, const Visit& b) { return a.weeks < b.weeks; });
      patients.push_back(std::move(patient));
    } catch (const std::exception& error) {
      skipped.push_back({{"report", path.string()}, {"reason", error.what()}});
    }
  }

  // Union rate per visit label, labels in order of their median time.
  std::map<std::string, std::vector<double>> weeksByLabel;
  for (const Patient& p : patients) {
    for (const Visit& v : p.visits) {
      if (std::isfinite(v.weeks)) {
        weeksByLabel[v.label].push_back(v.weeks);
      }
    }
  }
  std::vector<std::pair<double, std::string>> labels;
  for (auto& [label, weeks] : weeksByLabel) {
    std::sort(weeks.begin(), weeks.end());
    labels.emplace_back(weeks[weeks.size() / 2], label);
  }
  std::sort(labels.begin(), labels.end());
  Json rates = Json::array();
  std::string ratesCsv =
      "timepoint,median_weeks,patients,unions,rate,ci_lower,ci_upper,not_scored\n";
  for (const auto& [weeks, label] : labels) {
    int total = 0;
    int events = 0;
    int unscored = 0;
    for (const Patient& p : patients) {
      for (const Visit& v : p.visits) {
        if (v.label == label) {
          if (v.union_) {
            ++total;
            events += *v.union_ ? 1 : 0;
          } else {
            ++unscored;
          }
        }
      }
    }
    const Proportion rate = clopperPearson(events, total, options.confidence);
    rates.push_back({{"timepoint", label},
                     {"median_weeks", weeks},
                     {"patients", total},
                     {"unions", events},
                     {"rate", round4(rate.estimate)},
                     {"ci_lower", round4(rate.lower)},
                     {"ci_upper", round4(rate.upper)},
                     {"not_scored", unscored}});
    ratesCsv += fmt::format("{},{},{},{},{:.4f},{:.4f},{:.4f},{}\n", label, weeks, total, events,
                            rate.estimate, rate.lower, rate.upper, unscored);
  }

  // Time to union, interval-censored between visits: the first visit after
  // which union holds, and the visit before it; never united: right-censored
  // at the last scored visit.
  std::vector<CensoredInterval> intervals;
  Json perPatient = Json::array();
  double lastWeek = 0;
  for (const Patient& p : patients) {
    std::vector<const Visit*> scored;
    for (const Visit& v : p.visits) {
      if (v.union_ && std::isfinite(v.weeks)) {
        scored.push_back(&v);
        lastWeek = std::max(lastWeek, v.weeks);
      }
    }
    Json entry = {{"patient_id", p.id}, {"report", p.report.string()}};
    Json byVisit = Json::object();
    for (const Visit& v : p.visits) {
      byVisit[v.label] = v.union_ ? Json(*v.union_) : Json(nullptr);
    }
    entry["union_by_visit"] = byVisit;
    if (scored.empty()) {
      entry["time_to_union_weeks"] = nullptr;
      perPatient.push_back(entry);
      continue;
    }
    std::size_t first = scored.size();
    for (std::size_t i = scored.size(); i-- > 0;) {
      if (*scored[i]->union_) {
        first = i;
      } else {
        break;
      }
    }
    CensoredInterval interval;
    if (first < scored.size()) {
      interval.left = first == 0 ? 0.0 : scored[first - 1]->weeks;
      interval.right = scored[first]->weeks;
    } else {
      interval.left = scored.back()->weeks;
    }
    intervals.push_back(interval);
    entry["time_to_union_weeks"] = {
        {"after", interval.left},
        {"by", std::isfinite(interval.right) ? Json(interval.right) : Json(nullptr)}};
    perPatient.push_back(entry);
  }
  const TurnbullEstimate estimate = turnbull(intervals);
  Json masses = Json::array();
  std::string turnbullCsv = "after_weeks,by_weeks,probability\n";
  for (const TurnbullMass& m : estimate.masses) {
    masses.push_back({{"after_weeks", m.left},
                      {"by_weeks", std::isfinite(m.right) ? Json(m.right) : Json(nullptr)},
                      {"probability", round4(m.probability)}});
    turnbullCsv +=
        fmt::format("{},{},{:.4f}\n", m.left,
                    std::isfinite(m.right) ? fmt::format("{}", m.right) : "", m.probability);
  }
  Json united = Json::array();
  for (const auto& [weeks, label] : labels) {
    united.push_back(
        {{"weeks", weeks}, {"probability_united", round4(1.0 - estimate.survivalAfter(weeks))}});
  }

  const Json cohort = {
      {"schema", "unionscope.cohort/1"},
      {"software", {{"name", kSoftwareName}, {"version", kVersion}, {"git_commit", kGitCommit}}},
      {"confidence", options.confidence},
      {"interval_method", "Clopper-Pearson (exact)"},
      {"patients", perPatient},
      {"union_rates", rates},
      {"time_to_union",
       {{"method", "Turnbull NPMLE, interval-censored between visits"},
        {"converged", estimate.converged},
        {"masses", masses},
        {"cumulative_union", united}}},
      {"skipped_reports", skipped}};
  CohortOutcome outcome;
  outcome.patients = static_cast<int>(patients.size());
  outcome.skipped = static_cast<int>(skipped.size());
  outcome.json = options.outputDirectory / "cohort.json";
  writeFileAtomically(outcome.json, cohort.dump(2) + "\n");
  writeFileAtomically(options.outputDirectory / "union_rates.csv", ratesCsv);
  writeFileAtomically(options.outputDirectory / "time_to_union.csv", turnbullCsv);
  plotTimeToUnion(estimate, lastWeek, options.outputDirectory / "time_to_union.png");
  return outcome;
}

} // namespace unionscope
