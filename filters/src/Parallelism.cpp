#include "unionscope/filters/Parallelism.h"

#include "unionscope/filters/RigidRegistration.h"

#include <itkMersenneTwisterRandomVariateGenerator.h>
#include <itkMultiThreaderBase.h>
#include <itkOutputWindow.h>
#include <itkThreadPool.h>
#include <oneapi/tbb/global_control.h>
#include <opencv2/core/utility.hpp>

#include <algorithm>
#include <mutex>
#include <thread>

namespace unionscope {

struct ThreadingScope::Impl {
  explicit Impl(int threads)
      : control(oneapi::tbb::global_control::max_allowed_parallelism,
                static_cast<std::size_t>(threads)) {}
  oneapi::tbb::global_control control;
  int previousItkThreads = 0;
  int previousOpenCvThreads = 0;
};

ThreadingScope::ThreadingScope(int threads) {
  const int hardware = static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  threads_ = threads > 0 ? threads : hardware;
  impl_ = std::make_unique<Impl>(threads_);
  impl_->previousItkThreads =
      static_cast<int>(itk::MultiThreaderBase::GetGlobalDefaultNumberOfThreads());
  impl_->previousOpenCvThreads = cv::getNumThreads();
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(static_cast<unsigned>(threads_));
  cv::setNumThreads(threads_);
}

ThreadingScope::~ThreadingScope() {
  itk::MultiThreaderBase::SetGlobalDefaultNumberOfThreads(
      static_cast<unsigned>(impl_->previousItkThreads));
  cv::setNumThreads(impl_->previousOpenCvThreads);
}

int allowedParallelism() {
  return static_cast<int>(oneapi::tbb::global_control::active_value(
      oneapi::tbb::global_control::max_allowed_parallelism));
}

void prepareToolkitsForConcurrentAnalyses() {
  static std::once_flag prepared;
  std::call_once(prepared, [] {
    // Also initializes ITK's factory list, which every New() then reads.
    registerTransformFileSupport();
    // Singletons ITK would otherwise create on first use inside a worker,
    // registering them in its unguarded singleton index.
    itk::ThreadPool::GetInstance();
    itk::OutputWindow::GetInstance();
    itk::Statistics::MersenneTwisterRandomVariateGenerator::GetInstance();
  });
}

} // namespace unionscope
