#include "unionscope/viewer/SnapshotRenderer.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>

using namespace unionscope;

namespace {

MaskImage::Pointer sphere(double radiusMm, double spacingMm) {
  auto mask = MaskImage::New();
  const auto n = static_cast<itk::SizeValueType>(std::ceil(2.6 * radiusMm / spacingMm));
  MaskImage::RegionType region;
  region.SetSize({{n, n, n}});
  mask->SetRegions(region);
  const double spacing[3] = {spacingMm, spacingMm, spacingMm};
  mask->SetSpacing(spacing);
  const double origin[3] = {-100.0, 20.0, -300.0};
  mask->SetOrigin(origin);
  mask->Allocate();
  const double c = (static_cast<double>(n) - 1) / 2.0;
  for (itk::IndexValueType k = 0; k < static_cast<itk::IndexValueType>(n); ++k) {
    for (itk::IndexValueType j = 0; j < static_cast<itk::IndexValueType>(n); ++j) {
      for (itk::IndexValueType i = 0; i < static_cast<itk::IndexValueType>(n); ++i) {
        const double r =
            std::sqrt((i - c) * (i - c) + (j - c) * (j - c) + (k - c) * (k - c)) * spacingMm;
        mask->SetPixel({{i, j, k}}, r <= radiusMm ? 1 : 0);
      }
    }
  }
  return mask;
}

} // namespace

TEST(SnapshotRenderer, RendersASurfaceThatEnclosesTheMaskVolume) {
  if (std::getenv("DISPLAY") == nullptr) {
    GTEST_SKIP() << "no X display (run the test command, which starts Xvfb)";
  }
  const std::filesystem::path png =
      std::filesystem::temp_directory_path() / "unionscope_snapshot_test.png";
  const double radius = 10.0;
  viewer::SurfaceLayer layer;
  layer.mask = sphere(radius, 0.5).GetPointer();
  viewer::SnapshotOptions options;
  options.width = 320;
  options.height = 240;
  const auto stats = viewer::renderSurfacesToPng({layer}, png, options);

  const double expected = 4.0 / 3.0 * M_PI * radius * radius * radius;
  EXPECT_NEAR(stats.enclosedVolumeMm3, expected, 0.05 * expected);
  EXPECT_GT(stats.surfaceTriangles, 1000U);

  const cv::Mat image = cv::imread(png.string(), cv::IMREAD_COLOR);
  ASSERT_FALSE(image.empty());
  EXPECT_EQ(image.cols, 320);
  EXPECT_EQ(image.rows, 240);
  // The sphere fills part of the frame; the rest is the dark background.
  int lit = 0;
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
      lit += (p[0] + p[1] + p[2]) > 120 ? 1 : 0;
    }
  }
  const double share = static_cast<double>(lit) / (image.rows * image.cols);
  EXPECT_GT(share, 0.1);
  EXPECT_LT(share, 0.9);
  std::filesystem::remove(png);
}
