#pragma once
// One place decides how many threads UnionScope uses.
//
// TBB is the hot path. ITK's and OpenCV's own thread pools are capped at the
// same count, and the ITK registration that runs inside TBB tasks sets its
// metric and optimizer to one work unit. Results never depend on the count:
// kernels reduce in a fixed order.

#include <memory>

namespace unionscope {

class ThreadingScope {
public:
  /// threads <= 0 means all hardware threads.
  explicit ThreadingScope(int threads);
  ~ThreadingScope();
  ThreadingScope(const ThreadingScope&) = delete;
  ThreadingScope& operator=(const ThreadingScope&) = delete;

  [[nodiscard]] int threads() const { return threads_; }

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int threads_ = 1;
};

/// The parallelism TBB currently allows (respects an active ThreadingScope).
int allowedParallelism();

/// Fills ITK's lazily built globals (its object factories, the transform
/// types a transform file may name, its thread pool, output window and
/// random generator) on the calling thread. ITK builds them on first use
/// without a lock; call this before running whole analyses concurrently (a
/// batch's patients), so that no two first uses race. Runs once.
void prepareToolkitsForConcurrentAnalyses();

} // namespace unionscope
