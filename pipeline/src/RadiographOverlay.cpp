#include "unionscope/pipeline/RadiographOverlay.h"

#include <fmt/format.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <stdexcept>

namespace unionscope {
namespace {

constexpr int kLongSide = 1024;

// Colours (BGR), one meaning each.
const cv::Scalar kEdgeColour(230, 160, 60);    // outer cortical edges: blue
const cv::Scalar kFractureColour(0, 220, 255); // fracture line: yellow
const cv::Scalar kCallusColour(80, 220, 80);   // callus outline: green
const cv::Scalar kMetalColour(200, 60, 220);   // implants: magenta
const cv::Scalar kTextColour(255, 255, 255);

std::vector<cv::Point> scaled(const PixelPolyline& line, double scale) {
  std::vector<cv::Point> points;
  points.reserve(line.size());
  for (const auto& p : line) {
    points.emplace_back(static_cast<int>(std::lround((p[0] + 0.5) * scale - 0.5)),
                        static_cast<int>(std::lround((p[1] + 0.5) * scale - 0.5)));
  }
  return points;
}

std::string sideLabel(const RadiographSideResult& side) {
  const std::string name = side.cortex ? std::string(cortexKey(*side.cortex)) : "cortex";
  if (!side.score.category) {
    return fmt::format("{}: not assessable", name);
  }
  return fmt::format("{}: {}{} ({:.0f}%)", name, static_cast<int>(*side.score.category),
                     side.score.bridged() ? " bridged" : "", 100.0 * side.confidence);
}

} // namespace

void writeRadiographOverlay(const RadiographImage& image, const RadiographAnalysisResult& result,
                            const std::filesystem::path& png) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  const cv::Mat source(static_cast<int>(size[1]), static_cast<int>(size[0]), CV_32F,
                       const_cast<float*>(image.GetBufferPointer()));
  const double scale = std::min(1.0, static_cast<double>(kLongSide) /
                                         static_cast<double>(std::max(size[0], size[1])));
  cv::Mat small;
  cv::resize(source, small, cv::Size(), scale, scale, cv::INTER_AREA);
  cv::Mat grey;
  small.convertTo(grey, CV_8U, 255.0);
  cv::Mat canvas;
  cv::cvtColor(grey, canvas, cv::COLOR_GRAY2BGR);
  const int thickness = std::max(1, static_cast<int>(std::lround(canvas.cols / 400.0)));

  for (const PixelPolyline& outline : result.metalOutlines) {
    const std::vector<std::vector<cv::Point>> contour{scaled(outline, scale)};
    cv::polylines(canvas, contour, true, kMetalColour, 1, cv::LINE_AA);
  }
  for (const PixelPolyline& edge : result.outerEdges) {
    const std::vector<std::vector<cv::Point>> line{scaled(edge, scale)};
    cv::polylines(canvas, line, false, kEdgeColour, thickness, cv::LINE_AA);
  }
  for (const PixelPolyline& outline : result.callusOutline) {
    for (const cv::Point& p : scaled(outline, scale)) {
      cv::circle(canvas, p, thickness, kCallusColour, cv::FILLED, cv::LINE_AA);
    }
  }
  if (result.fractureFound) {
    const std::vector<cv::Point> line =
        scaled({result.fractureLine[0], result.fractureLine[1]}, scale);
    cv::line(canvas, line[0], line[1], kFractureColour, thickness + 1, cv::LINE_AA);
  }
  // Legend: one line per cortex this view shows, then the notes.
  const double font = std::max(0.4, canvas.cols / 1400.0);
  int y = static_cast<int>(22 * font / 0.5);
  const auto text = [&](const std::string& line) {
    cv::putText(canvas, line, {8, y}, cv::FONT_HERSHEY_SIMPLEX, font, cv::Scalar(0, 0, 0),
                thickness + 2, cv::LINE_AA);
    cv::putText(canvas, line, {8, y}, cv::FONT_HERSHEY_SIMPLEX, font, kTextColour, thickness,
                cv::LINE_AA);
    y += static_cast<int>(20 * font / 0.5);
  };
  if (!result.boneFound) {
    text("no long bone found");
  } else if (!result.fractureFound) {
    text("no fracture line found");
  } else {
    text(fmt::format("fracture line (confidence {:.0f}%)", 100.0 * result.fractureConfidence));
    for (const RadiographSideResult& side : result.sides) {
      text(sideLabel(side));
    }
  }
  std::filesystem::create_directories(png.parent_path());
  if (!cv::imwrite(png.string(), canvas)) {
    throw std::runtime_error(png.string() + ": cannot write the overlay picture");
  }
}

} // namespace unionscope
