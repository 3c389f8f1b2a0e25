// The viewer's scene of an analysed phantom patient, rendered off-screen
// (under Xvfb): every visit shows, the picture is not blank, and each
// visit's callus surface encloses the volume report.json gives.

#include "TestSupport.h"
#include "unionscope/pipeline/AnalysedPatient.h"
#include "unionscope/pipeline/Analyze.h"
#include "unionscope/pipeline/Reads.h"
#include "unionscope/sample_data/Phantom.h"
#include "unionscope/viewer/PatientScene.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdlib>
#include <memory>

namespace {

namespace fs = std::filesystem;
using namespace unionscope;

/// A healing phantom (three visits, a nail: metal in the label map),
/// analysed once for the suite.
class ViewerScene : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    directory_ = std::make_unique<test::TempDir>();
    const auto spec = phantom::makePatientSpec(4, phantom::Scenario::NormalHealing,
                                               phantom::Implant::Nail, phantom::SizePreset::Small);
    phantom::writePatient(spec, directory_->path() / "patient");
    AnalyzeOptions options;
    options.inputs = {directory_->path() / "patient" / "dicom"};
    options.outputDirectory = out();
    options.referenceDate = "2025-03-03";
    analyzePatient(options);
  }
  static void TearDownTestSuite() { directory_.reset(); }
  static fs::path out() { return directory_->path() / "out"; }

  void SetUp() override {
    if (std::getenv("DISPLAY") == nullptr) {
      GTEST_SKIP() << "no X display (run the test command, which starts Xvfb)";
    }
  }

  static inline std::unique_ptr<test::TempDir> directory_;
};

struct ImageSummary {
  double meanStdDev = 0;                 ///< over the three channels
  double litFraction = 0;                ///< share of pixels away from the background
  int columnsWithContent[3] = {0, 0, 0}; ///< in each third of the 3D row
};

ImageSummary summarise(const fs::path& png, double rowFrom, double rowTo) {
  const cv::Mat image = cv::imread(png.string(), cv::IMREAD_COLOR);
  EXPECT_FALSE(image.empty()) << png;
  ImageSummary summary;
  if (image.empty()) {
    return summary;
  }
  cv::Scalar mean;
  cv::Scalar stddev;
  cv::meanStdDev(image, mean, stddev);
  summary.meanStdDev = (stddev[0] + stddev[1] + stddev[2]) / 3.0;
  const cv::Vec3b background = image.at<cv::Vec3b>(image.rows / 2, 2);
  long lit = 0;
  const int y0 = static_cast<int>(rowFrom * image.rows);
  const int y1 = static_cast<int>(rowTo * image.rows);
  for (int y = y0; y < y1; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
      const int d = std::abs(p[0] - background[0]) + std::abs(p[1] - background[1]) +
                    std::abs(p[2] - background[2]);
      if (d > 60) {
        ++lit;
        ++summary.columnsWithContent[std::min(2, 3 * x / image.cols)];
      }
    }
  }
  summary.litFraction = static_cast<double>(lit) / double((y1 - y0) * image.cols);
  return summary;
}

TEST_F(ViewerScene, SnapshotShowsEveryVisitAndIsNotBlank) {
  const AnalysedPatient patient = loadAnalysedPatient(out());
  ASSERT_EQ(patient.visits.size(), 3U);
  // analyze registered the later visits to the first: they are shown in its frame.
  EXPECT_TRUE(patient.visits[0].registeredTo.empty());
  for (std::size_t v = 1; v < 3; ++v) {
    EXPECT_EQ(patient.visits[v].registeredTo, patient.visits[0].label) << v;
    EXPECT_NE(patient.visits[v].toReference, kIdentity4) << v;
  }
  const fs::path png = out() / "snapshot.png";
  viewer::SceneOptions options;
  options.width = 900;
  options.height = 540;
  const viewer::SceneStatistics stats = viewer::renderPatientSnapshot(patient, png, options);
  ASSERT_EQ(stats.visits.size(), 3U);
  for (const auto& visit : stats.visits) {
    EXPECT_TRUE(visit.hasVolumes) << visit.label;
    EXPECT_GT(visit.boneTriangles, 1000U) << visit.label;
    EXPECT_GT(visit.callusTriangles, 100U) << visit.label;
  }
  const cv::Mat image = cv::imread(png.string(), cv::IMREAD_COLOR);
  ASSERT_EQ(image.cols, 900);
  ASSERT_EQ(image.rows, 540);
  // The 3D row (upper two thirds): the bones and callus of all three visits
  // stand out of the background, one per column.
  const ImageSummary summary = summarise(png, 0.05, 0.62);
  EXPECT_GT(summary.meanStdDev, 15.0);
  EXPECT_GT(summary.litFraction, 0.05);
  EXPECT_LT(summary.litFraction, 0.8);
  for (int column = 0; column < 3; ++column) {
    EXPECT_GT(summary.columnsWithContent[column], 2000) << "visit " << column << " is empty";
  }
}

TEST_F(ViewerScene, EachVisitsCallusSurfaceEnclosesTheReportedVolume) {
  const AnalysedPatient patient = loadAnalysedPatient(out());
  viewer::SceneOptions options;
  options.width = 600;
  options.height = 400;
  options.panel2d = false;
  const viewer::SceneStatistics stats =
      viewer::renderPatientSnapshot(patient, out() / "volumes.png", options);
  ASSERT_EQ(stats.visits.size(), 3U);
  for (const auto& visit : stats.visits) {
    ASSERT_TRUE(visit.reportCallusVolumeMm3) << visit.label;
    const double report = *visit.reportCallusVolumeMm3;
    ASSERT_GT(report, 500.0) << visit.label;
    EXPECT_NEAR(visit.callusEnclosedVolumeMm3, report, 0.05 * report) << visit.label;
  }
}

TEST_F(ViewerScene, SliderLayoutShowsTheChosenVisit) {
  const AnalysedPatient patient = loadAnalysedPatient(out());
  viewer::SceneOptions options;
  options.width = 500;
  options.height = 500;
  options.layout = viewer::Layout::Slider;
  options.visit = 0;
  const fs::path png = out() / "slider.png";
  viewer::renderPatientSnapshot(patient, png, options);
  const ImageSummary summary = summarise(png, 0.05, 0.62);
  EXPECT_GT(summary.meanStdDev, 15.0);
  EXPECT_GT(summary.litFraction, 0.03);
}

TEST_F(ViewerScene, TheReadFormChangesACategoryAndSignsThroughReads) {
  // The window under Xvfb, driven by keys as a reader would press them: from
  // the last visit one to the left, down to posterior, category 1, sign.
  const AnalysedPatient patient = loadAnalysedPatient(out());
  ReaderRead read = startRead(patient, "Form Reader");
  std::string message;
  const viewer::SignRead sign = [&](ReaderRead& r) {
    SaveReadOptions save;
    save.writeDicom = false;
    message = saveRead(patient, r, save).json.string();
    return message;
  };
  viewer::SceneOptions options;
  options.width = 700;
  options.height = 420;
  options.keys = {"Left", "Down", "1", "S"};
  viewer::runInteractiveViewer(patient, options, &read, sign);
  ASSERT_EQ(message, (out() / "reads" / "form_reader.json").string());
  const std::vector<ReaderRead> reads = loadLatestReads(out());
  ASSERT_EQ(reads.size(), 1U);
  const CortexRead& posterior = reads[0].visits[1].cortices[1];
  EXPECT_EQ(posterior.reader, 1);
  EXPECT_EQ(posterior.algorithm, patient.visits[1].cortices[1].category);
  for (std::size_t v = 0; v < 3; ++v) {
    for (std::size_t c = 0; c < 4; ++c) {
      if (v != 1 || c != 1) {
        EXPECT_FALSE(reads[0].visits[v].cortices[c].changed()) << v << " " << c;
      }
    }
  }
  fs::remove_all(out() / "reads");
}

TEST_F(ViewerScene, AMissingVolumeIsAnErrorThatNamesTheFile) {
  // A copy of DIR without volumes/, while report.json lists them.
  const fs::path copy = directory_->path() / "no-volumes";
  fs::create_directories(copy);
  fs::copy(out() / "report.json", copy / "report.json");
  fs::copy(out() / "registration", copy / "registration", fs::copy_options::recursive);
  const AnalysedPatient patient = loadAnalysedPatient(copy);
  try {
    viewer::renderPatientSnapshot(patient, copy / "snapshot.png");
    ADD_FAILURE() << "rendered without its volumes";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find((copy / "volumes").string()), std::string::npos)
        << error.what();
  }
}

} // namespace
