// Small numeric and image helpers of the radiograph analysis.

#include "RadiographInternals.h"

namespace unionscope::radiograph {
double median(std::vector<double> v) {
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) {
    return kNaN;
  }
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}

double percentile(const cv::Mat& image, const cv::Mat& mask, double share) {
  return percentiles<1>(image, mask, {share})[0];
}

std::optional<Line> robustLineFit(const std::vector<double>& x, const std::vector<double>& y,
                                  double minSigma) {
  std::vector<std::uint8_t> use(x.size(), 1);
  Line line;
  for (int pass = 0; pass < 3; ++pass) {
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (use[i] != 0U && !std::isnan(y[i])) {
        n += 1;
        sx += x[i];
        sy += y[i];
        sxx += x[i] * x[i];
        sxy += x[i] * y[i];
      }
    }
    const double det = n * sxx - sx * sx;
    if (n < 3 || std::abs(det) < 1e-9) {
      return std::nullopt;
    }
    line.b = (n * sxy - sx * sy) / det;
    line.a = (sy - line.b * sx) / n;
    std::vector<double> residuals;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!std::isnan(y[i])) {
        residuals.push_back(std::abs(y[i] - line.at(x[i])));
      }
    }
    const double sigma = std::max(minSigma, 1.4826 * median(residuals));
    for (std::size_t i = 0; i < x.size(); ++i) {
      use[i] = !std::isnan(y[i]) && std::abs(y[i] - line.at(x[i])) <= 2.5 * sigma ? 1 : 0;
    }
  }
  return line;
}

cv::Mat toMat(const RadiographImage& image) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  const cv::Mat view(static_cast<int>(size[1]), static_cast<int>(size[0]), CV_32F,
                     const_cast<float*>(image.GetBufferPointer()));
  return view.clone();
}

double borderSharpness(const cv::Mat& image, const cv::Mat& inside, const cv::Mat& others,
                       double reach) {
  cv::Mat outsideDistance, insideDistance;
  cv::distanceTransform(inside == 0, outsideDistance, cv::DIST_L2, 3);
  cv::distanceTransform(inside, insideDistance, cv::DIST_L2, 3);
  const cv::Mat innerRim = (insideDistance > 0.5) & (insideDistance <= 2.5);
  const cv::Mat outerRim = (outsideDistance > 0.5) & (outsideDistance <= 2.5) & ~others;
  const cv::Mat farRing = (outsideDistance > reach) & (outsideDistance <= reach + 2.5) & ~others;
  if (cv::countNonZero(innerRim) == 0 || cv::countNonZero(outerRim) == 0 ||
      cv::countNonZero(farRing) == 0) {
    return 0.0;
  }
  const double in = cv::mean(image, innerRim)[0];
  const double near = cv::mean(image, outerRim)[0];
  const double far = cv::mean(image, farRing)[0];
  return in > far ? (in - near) / (in - far) : 0.0;
}

Bar barOf(const cv::Mat& inside) {
  std::vector<cv::Point> points;
  cv::findNonZero(inside, points);
  if (points.size() < 3) {
    return {};
  }
  const cv::RotatedRect rect = cv::minAreaRect(points);
  const bool wide = rect.size.width >= rect.size.height;
  const double degrees = rect.angle + (wide ? 0.0 : 90.0);
  return {std::fmod(degrees + 360.0, 180.0) * M_PI / 180.0,
          std::max(rect.size.width, rect.size.height), std::min(rect.size.width, rect.size.height),
          rect.center};
}

double elongation(const cv::Mat& inside) {
  return barOf(inside).elongation();
}

cv::Mat dilatedByDisc(const cv::Mat& mask, int radius) {
  cv::Mat out;
  cv::dilate(
      mask, out,
      cv::getStructuringElement(cv::MORPH_ELLIPSE, cv::Size(2 * radius + 1, 2 * radius + 1)));
  return out;
}

cv::Rect grownWithin(const cv::Rect& rect, int margin, const cv::Size& size) {
  return cv::Rect(rect.x - margin, rect.y - margin, rect.width + 2 * margin,
                  rect.height + 2 * margin) &
         cv::Rect(cv::Point(0, 0), size);
}

std::vector<double> medianFiltered(const std::vector<double>& v, int halfWindow) {
  std::vector<double> out(v.size(), kNaN);
  for (std::size_t i = 0; i < v.size(); ++i) {
    std::vector<double> window;
    for (int d = -halfWindow; d <= halfWindow; ++d) {
      const auto k = static_cast<std::ptrdiff_t>(i) + d;
      if (k >= 0 && k < static_cast<std::ptrdiff_t>(v.size())) {
        window.push_back(v[static_cast<std::size_t>(k)]);
      }
    }
    out[i] = median(window);
  }
  return out;
}

std::vector<double> filledGaps(std::vector<double> v) {
  // Linear interpolation across NaN runs; ends keep the nearest value.
  const auto n = v.size();
  std::size_t i = 0;
  while (i < n) {
    if (!std::isnan(v[i])) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && std::isnan(v[j])) {
      ++j;
    }
    const double a = i > 0 ? v[i - 1] : (j < n ? v[j] : 0.0);
    const double b = j < n ? v[j] : a;
    for (std::size_t k = i; k < j; ++k) {
      const double t = (static_cast<double>(k - i) + 1.0) / (static_cast<double>(j - i) + 1.0);
      v[k] = a + (b - a) * t;
    }
    i = j;
  }
  return v;
}

} // namespace unionscope::radiograph
