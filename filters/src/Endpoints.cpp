#include "unionscope/filters/Endpoints.h"

#include <algorithm>
#include <boost/math/special_functions/beta.hpp>
#include <cmath>
#include <stdexcept>

namespace unionscope {

Proportion clopperPearson(int events, int total, double confidence) {
  if (events < 0 || total < 0 || events > total || !(confidence > 0 && confidence < 1)) {
    throw std::invalid_argument("clopperPearson: need 0 <= events <= total and 0 < confidence < 1");
  }
  Proportion p;
  p.events = events;
  p.total = total;
  if (total == 0) {
    return p;
  }
  const double alpha = 1.0 - confidence;
  p.estimate = static_cast<double>(events) / total;
  // Quantiles of Beta(x, n - x + 1) and Beta(x + 1, n - x).
  p.lower = events == 0 ? 0.0 : boost::math::ibeta_inv(events, total - events + 1, alpha / 2);
  p.upper =
      events == total ? 1.0 : boost::math::ibeta_inv(events + 1, total - events, 1 - alpha / 2);
  return p;
}

double TurnbullEstimate::survivalAfter(double t) const {
  double mass = 0;
  for (const TurnbullMass& m : masses) {
    if (m.right <= t) {
      mass += m.probability;
    }
  }
  return std::max(0.0, 1.0 - mass);
}

TurnbullEstimate turnbull(const std::vector<CensoredInterval>& data, int maxIterations,
                          double tolerance) {
  TurnbullEstimate estimate;
  if (data.empty()) {
    return estimate;
  }
  // Innermost intervals: a left end immediately followed (in the sorted list
  // of all ends) by a right end. The intervals are half-open (left, right], so
  // at equal values a right end sorts first: (6, 12] and (12, 24] do not meet.
  struct End {
    double value;
    bool isRight;
  };
  std::vector<End> ends;
  for (const CensoredInterval& d : data) {
    if (!(d.right > d.left)) {
      throw std::invalid_argument("turnbull: every interval needs right > left");
    }
    ends.push_back({d.left, false});
    ends.push_back({d.right, true});
  }
  std::sort(ends.begin(), ends.end(), [](const End& a, const End& b) {
    return a.value < b.value || (a.value == b.value && a.isRight && !b.isRight);
  });
  for (std::size_t i = 0; i + 1 < ends.size(); ++i) {
    if (!ends[i].isRight && ends[i + 1].isRight) {
      estimate.masses.push_back({ends[i].value, ends[i + 1].value, 0.0});
    }
  }
  const std::size_t m = estimate.masses.size();
  // alpha[i][j]: subject i's interval contains innermost interval j.
  std::vector<std::vector<char>> contains(data.size(), std::vector<char>(m, 0));
  for (std::size_t i = 0; i < data.size(); ++i) {
    for (std::size_t j = 0; j < m; ++j) {
      contains[i][j] =
          data[i].left <= estimate.masses[j].left && estimate.masses[j].right <= data[i].right;
    }
  }
  std::vector<double> p(m, 1.0 / static_cast<double>(m));
  for (estimate.iterations = 1; estimate.iterations <= maxIterations; ++estimate.iterations) {
    // Self-consistency (EM) step.
    std::vector<double> next(m, 0.0);
    for (std::size_t i = 0; i < data.size(); ++i) {
      double denominator = 0;
      for (std::size_t j = 0; j < m; ++j) {
        denominator += contains[i][j] ? p[j] : 0.0;
      }
      for (std::size_t j = 0; j < m && denominator > 0; ++j) {
        next[j] += contains[i][j] ? p[j] / denominator : 0.0;
      }
    }
    double change = 0;
    for (std::size_t j = 0; j < m; ++j) {
      next[j] /= static_cast<double>(data.size());
      change = std::max(change, std::abs(next[j] - p[j]));
    }
    p = next;
    if (change < tolerance) {
      estimate.converged = true;
      break;
    }
  }
  for (std::size_t j = 0; j < m; ++j) {
    estimate.masses[j].probability = p[j];
  }
  return estimate;
}

} // namespace unionscope
