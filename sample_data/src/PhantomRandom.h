#pragma once
// A small deterministic random source: the phantom must write the same bytes
// for the same seed on every platform and thread count, so it does not use
// std:: distributions (their algorithms are implementation-defined).

#include <cmath>
#include <cstdint>

namespace unionscope::phantom {

class Rng {
public:
  explicit Rng(std::uint64_t seed) : state_(seed ^ 0x6A09E667F3BCC909ULL) {}
  Rng(std::uint64_t seed, std::uint64_t stream) : Rng(seed * 0x9E3779B97F4A7C15ULL + stream) {
    next();
  }

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31U);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  int integer(int low, int highInclusive) {
    return low + static_cast<int>(next() % static_cast<std::uint64_t>(highInclusive - low + 1));
  }
  bool chance(double p) { return uniform() < p; }
  /// Standard normal (Box-Muller).
  double normal() {
    const double u1 = 1.0 - uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

private:
  std::uint64_t state_;
};

} // namespace unionscope::phantom
