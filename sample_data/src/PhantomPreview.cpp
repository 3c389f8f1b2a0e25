// PNG previews of a phantom visit, so that a reader sees what the generator
// made: an axial CT slice through the fracture, a coronal reformat, and the
// two radiographs. Also the radiographs' metal truth, a PNG as well.

#include "PhantomInternal.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace unionscope::phantom {
namespace {

/// Bone window: soft tissue dark grey, cortex white.
unsigned char window(double hu) {
  constexpr double kLow = -250;
  constexpr double kHigh = 1750;
  return static_cast<unsigned char>(std::clamp((hu - kLow) / (kHigh - kLow), 0.0, 1.0) * 255.0 +
                                    0.5);
}

void write(const std::filesystem::path& path, const cv::Mat& image) {
  std::filesystem::create_directories(path.parent_path());
  if (!cv::imwrite(path.string(), image)) {
    throw std::runtime_error("cannot write " + path.string());
  }
}

} // namespace

void writeMetalMask(const ProjectionRadiograph& radiograph, const std::filesystem::path& file) {
  const auto size = radiograph.image->GetLargestPossibleRegion().GetSize();
  const cv::Mat mask(static_cast<int>(size[1]), static_cast<int>(size[0]), CV_8U,
                     const_cast<std::uint8_t*>(radiograph.metal.data()));
  write(file, mask);
}

void writeVisitPreviews(const RenderedVisit& visit, const ProjectionRadiograph& ap,
                        const ProjectionRadiograph& lateral, const std::filesystem::path& directory,
                        const std::string& label) {
  const CtImage& ct = *visit.ct.hu;
  const auto size = ct.GetLargestPossibleRegion().GetSize();
  const auto spacing = ct.GetSpacing();
  CtImage::PointType centre;
  for (int a = 0; a < 3; ++a) {
    centre[a] = visit.ct.fractureCenter[static_cast<std::size_t>(a)];
  }
  itk::ContinuousIndex<double, 3> index;
  ct.TransformPhysicalPointToContinuousIndex(centre, index);
  const auto clampIndex = [&](double v, int axis) {
    return std::clamp(static_cast<int>(std::lround(v)), 0, static_cast<int>(size[axis]) - 1);
  };
  const int k = clampIndex(index[2], 2);
  const int j = clampIndex(index[1], 1);
  const std::int16_t* hu = ct.GetBufferPointer();

  cv::Mat axial(static_cast<int>(size[1]), static_cast<int>(size[0]), CV_8UC1);
  for (int y = 0; y < axial.rows; ++y) {
    for (int x = 0; x < axial.cols; ++x) {
      axial.at<unsigned char>(y, x) =
          window(hu[(static_cast<std::size_t>(k) * size[1] + y) * size[0] + x]);
    }
  }
  write(directory / (label + "_ct_axial.png"), axial);

  // Coronal: x across, head at the top; stretched to square pixels.
  cv::Mat coronal(static_cast<int>(size[2]), static_cast<int>(size[0]), CV_8UC1);
  for (int z = 0; z < coronal.rows; ++z) {
    const std::size_t slice = size[2] - 1 - static_cast<std::size_t>(z);
    for (int x = 0; x < coronal.cols; ++x) {
      coronal.at<unsigned char>(z, x) = window(hu[(slice * size[1] + j) * size[0] + x]);
    }
  }
  cv::Mat coronalSquare;
  cv::resize(
      coronal, coronalSquare,
      cv::Size(coronal.cols, static_cast<int>(std::lround(coronal.rows * spacing[2] / spacing[0]))),
      0, 0, cv::INTER_LINEAR);
  write(directory / (label + "_ct_coronal.png"), coronalSquare);

  for (const auto& [radiograph, name] :
       {std::pair{&ap, "_dx_ap.png"}, std::pair{&lateral, "_dx_lat.png"}}) {
    const auto rsize = radiograph->image->GetLargestPossibleRegion().GetSize();
    cv::Mat image(static_cast<int>(rsize[1]), static_cast<int>(rsize[0]), CV_32FC1,
                  radiograph->image->GetBufferPointer());
    cv::Mat bytes;
    image.convertTo(bytes, CV_8UC1, 255.0);
    cv::Mat colour;
    cv::cvtColor(bytes, colour, cv::COLOR_GRAY2BGR);
    const auto& line = radiograph->fractureLine;
    cv::line(colour, cv::Point2d(line[0][0], line[0][1]), cv::Point2d(line[1][0], line[1][1]),
             cv::Scalar(0, 200, 255), 1, cv::LINE_AA);
    write(directory / (label + name), colour);
  }
}

void writePreviewSheet(const std::filesystem::path& directory,
                       const std::vector<std::string>& labels) {
  constexpr int kRowHeight = 256;
  std::vector<cv::Mat> rows;
  for (const std::string& label : labels) {
    std::vector<cv::Mat> tiles;
    for (const char* name : {"_ct_axial.png", "_ct_coronal.png", "_dx_ap.png", "_dx_lat.png"}) {
      const cv::Mat tile = cv::imread((directory / (label + name)).string(), cv::IMREAD_COLOR);
      if (tile.empty()) {
        throw std::runtime_error("cannot read preview " + (directory / (label + name)).string());
      }
      cv::Mat scaled;
      cv::resize(tile, scaled,
                 cv::Size(static_cast<int>(std::lround(tile.cols * double(kRowHeight) / tile.rows)),
                          kRowHeight),
                 0, 0, cv::INTER_AREA);
      cv::putText(scaled, label, cv::Point(6, 20), cv::FONT_HERSHEY_SIMPLEX, 0.6,
                  cv::Scalar(0, 220, 255), 1, cv::LINE_AA);
      tiles.push_back(scaled);
      tiles.emplace_back(kRowHeight, 4, CV_8UC3, cv::Scalar(40, 40, 40));
    }
    cv::Mat row;
    cv::hconcat(tiles, row);
    rows.push_back(row);
  }
  int width = 0;
  for (const cv::Mat& row : rows) {
    width = std::max(width, row.cols);
  }
  for (cv::Mat& row : rows) {
    cv::copyMakeBorder(row, row, 0, 4, 0, width - row.cols, cv::BORDER_CONSTANT,
                       cv::Scalar(40, 40, 40));
  }
  cv::Mat sheet;
  cv::vconcat(rows, sheet);
  write(directory / "sheet.jpg", sheet); // photographs compress far better as JPEG
}

} // namespace unionscope::phantom
