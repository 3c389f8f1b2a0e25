// Radiograph analysis on whatever an archive holds: noise, flat fields,
// stripes, bars at any angle, saturated blocks, extreme shapes, stray NaN
// and values off the display range. Each film gets a result or the
// documented runtime_error, never another exception, a non-finite number or
// a line off the film.

#include "unionscope/filters/RadiographUnionAnalysis.h"

#include <gtest/gtest.h>
#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <stdexcept>

using namespace unionscope;

namespace {

RadiographImage::Pointer imageOf(const cv::Mat& pixels) {
  auto image = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize({{static_cast<itk::SizeValueType>(pixels.cols),
                   static_cast<itk::SizeValueType>(pixels.rows)}});
  image->SetRegions(region);
  image->Allocate();
  cv::Mat target(pixels.rows, pixels.cols, CV_32F, image->GetBufferPointer());
  pixels.copyTo(target);
  return image;
}

/// Film `k` of a deterministic variety: its kind is k modulo 8.
cv::Mat arbitraryFilm(std::mt19937_64& rng, int k) {
  std::uniform_real_distribution<double> unit(0, 1);
  std::uniform_int_distribution<int> side(32, 900);
  int width = side(rng), height = side(rng);
  if (k % 8 == 7) { // a strip: 32-47 pixels by 1500-2999
    width = 32 + static_cast<int>(rng() % 16);
    height = 1500 + static_cast<int>(rng() % 1500);
    if (rng() % 2 == 0) {
      std::swap(width, height);
    }
  }
  cv::Mat film(height, width, CV_32F);
  switch (k % 8) {
  case 0:
    cv::randu(film, 0, 1);
    break;
  case 1:
    film.setTo(unit(rng));
    break;
  case 2: { // stripes
    const int period = 4 + static_cast<int>(rng() % 20);
    for (int x = 0; x < width; ++x) {
      film.col(x).setTo((x / period) % 2 == 0 ? 0.1 : 0.9);
    }
    break;
  }
  default: { // bars at any angle, as bones, implants and rulers might be
    film.setTo(0.2 * unit(rng));
    const int bars = 1 + static_cast<int>(rng() % 8);
    for (int b = 0; b < bars; ++b) {
      const cv::RotatedRect bar(cv::Point2f(static_cast<float>(unit(rng) * width),
                                            static_cast<float>(unit(rng) * height)),
                                cv::Size2f(static_cast<float>(2 + unit(rng) * width * 0.4),
                                           static_cast<float>(2 + unit(rng) * height * 1.2)),
                                static_cast<float>(unit(rng) * 180));
      cv::Point2f corners[4];
      bar.points(corners);
      const std::vector<cv::Point> polygon(corners, corners + 4);
      cv::fillConvexPoly(film, polygon, cv::Scalar(unit(rng)));
    }
    if (k % 8 == 4) {
      cv::Mat noise(height, width, CV_32F);
      cv::randn(noise, 0, 0.1 * unit(rng));
      film += noise;
    }
    if (k % 8 == 5) { // blurred, with a saturated block and a black row
      cv::GaussianBlur(film, film, cv::Size(), 1 + 5 * unit(rng));
      film(cv::Rect(0, 0, width / 3, height / 5)).setTo(1.0);
      film.row(height / 2).setTo(0.0);
    }
    if (k % 8 == 6) { // off the display range
      film = film * 4000.0 - 1000.0;
    }
  }
  }
  if (k % 3 == 0) { // stray NaN
    for (int q = 0; q < 50; ++q) {
      film.at<float>(static_cast<int>(rng() % static_cast<unsigned>(height)),
                     static_cast<int>(rng() % static_cast<unsigned>(width))) = std::nanf("");
    }
  }
  return film;
}

} // namespace

TEST(RadiographRobustness, ArbitraryPixelsGiveAResultOrTheDocumentedError) {
  std::mt19937_64 rng(20261125);
  for (int k = 0; k < 64; ++k) {
    const cv::Mat pixels = arbitraryFilm(rng, k);
    const auto image = imageOf(pixels);
    SCOPED_TRACE(testing::Message() << "film " << k << ", " << pixels.cols << " x " << pixels.rows);
    for (const RadiographView view : {RadiographView::AP, RadiographView::Lateral}) {
      try {
        const RadiographAnalysisResult result =
            analyzeRadiographUnion(*image, k % 2 == 0 ? 0.0 : 0.15, view, {}, Laterality::Unknown);
        EXPECT_TRUE(std::isfinite(result.fractureConfidence));
        EXPECT_TRUE(std::isfinite(result.fractureEvidence));
        EXPECT_TRUE(std::isfinite(result.shaftWidthPixels));
        if (result.fractureFound) {
          for (const auto& end : result.fractureLine) {
            EXPECT_TRUE(end[0] >= -1 && end[0] <= pixels.cols) << end[0];
            EXPECT_TRUE(end[1] >= -1 && end[1] <= pixels.rows) << end[1];
          }
        }
      } catch (const std::runtime_error&) {
        // documented: no long bone to analyse
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
      }
    }
  }
}
