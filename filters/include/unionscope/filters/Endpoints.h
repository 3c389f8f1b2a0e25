#pragma once
// Cohort endpoints: proportions with exact confidence intervals, and the
// distribution of an interval-censored time to event. Pure functions.

#include <limits>
#include <vector>

namespace unionscope {

struct Proportion {
  int events = 0;
  int total = 0;
  double estimate = 0; ///< events / total (0 when total is 0)
  double lower = 0;    ///< exact (Clopper-Pearson) two-sided interval
  double upper = 1;
};

/// Clopper-Pearson interval at `confidence` (default 95%).
Proportion clopperPearson(int events, int total, double confidence = 0.95);

/// One subject's event time, known only to lie in (left, right]; right is
/// +infinity when the event was not seen by the last visit.
struct CensoredInterval {
  double left = 0;
  double right = std::numeric_limits<double>::infinity();
};

/// Turnbull's nonparametric maximum-likelihood estimate: probability mass on
/// the innermost intervals ("Turnbull intervals") that the data support.
struct TurnbullMass {
  double left = 0, right = 0; ///< (left, right]
  double probability = 0;
};
struct TurnbullEstimate {
  std::vector<TurnbullMass> masses;
  int iterations = 0;
  bool converged = false;
  /// Probability that the event has not happened by time t; between masses it
  /// is not identified, so it is evaluated at the masses' right ends.
  [[nodiscard]] double survivalAfter(double t) const;
};

TurnbullEstimate turnbull(const std::vector<CensoredInterval>& data, int maxIterations = 10000,
                          double tolerance = 1e-10);

} // namespace unionscope
