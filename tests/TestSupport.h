#pragma once
// Helpers shared by the tests: temporary folders and small synthetic images.

#include "unionscope/filters/ImageTypes.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/wait.h>

namespace unionscope::test {

/// A fresh folder under the system temp dir, removed when the test ends.
class TempDir {
public:
  TempDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = std::string("unionscope_") + (info ? info->test_suite_name() : "t") + "_" +
                       (info ? info->name() : "x") + "_" + std::to_string(std::random_device{}());
    for (char& c : name) {
      if (c == '/') {
        c = '_';
      }
    }
    path_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

/// A CT volume with a known value pattern: HU = 10*i - 7*j + 100*k - 500.
inline CtImage::Pointer makeRampVolume(unsigned nx, unsigned ny, unsigned nz,
                                       const std::array<double, 3>& spacing,
                                       const std::array<double, 3>& origin) {
  auto image = CtImage::New();
  CtImage::RegionType region;
  region.SetSize({{nx, ny, nz}});
  image->SetRegions(region);
  image->SetSpacing(spacing.data());
  image->SetOrigin(origin.data());
  image->Allocate();
  for (unsigned k = 0; k < nz; ++k) {
    for (unsigned j = 0; j < ny; ++j) {
      for (unsigned i = 0; i < nx; ++i) {
        const CtImage::IndexType index{
            {static_cast<long>(i), static_cast<long>(j), static_cast<long>(k)}};
        image->SetPixel(index,
                        static_cast<std::int16_t>(10 * int(i) - 7 * int(j) + 100 * int(k) - 500));
      }
    }
  }
  return image;
}

/// A radiograph of a straight long bone, as a parallel projection of a tube
/// (outer radius 11 mm, canal 6.5 mm) inside a soft-tissue cylinder (35 mm),
/// at 0.2 mm per pixel, shaft along the rows, bone bright. With gapMm > 0 a
/// transverse fracture gap (soft tissue) crosses it at gapRow. With
/// nailMu > 0 a solid nail 9 mm across runs down the canal (and across the
/// gap), attenuating nailMu per mm.
inline RadiographImage::Pointer makeTubeRadiograph(double gapMm, int gapRow = 400,
                                                   int columns = 500, int rows = 800,
                                                   double nailMu = 0.0) {
  constexpr double kPixel = 0.2;
  constexpr double kLimb = 35, kOuter = 11, kInner = 6.5, kNail = 4.5;
  constexpr double kSoftMu = 0.02, kBoneMu = 0.06;
  auto image = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize(
      {{static_cast<itk::SizeValueType>(columns), static_cast<itk::SizeValueType>(rows)}});
  image->SetRegions(region);
  const double spacing[2] = {kPixel, kPixel};
  image->SetSpacing(spacing);
  image->Allocate();
  const auto chord = [](double radius, double x) {
    return std::abs(x) < radius ? 2 * std::sqrt(radius * radius - x * x) : 0.0;
  };
  const double halfGap = gapMm / kPixel / 2;
  for (int r = 0; r < rows; ++r) {
    const bool inGap = gapMm > 0 && std::abs(r - gapRow) <= halfGap;
    for (int c = 0; c < columns; ++c) {
      const double x = (c + 0.5 - columns / 2.0) * kPixel;
      const double bone = inGap ? 0.0 : chord(kOuter, x) - chord(kInner, x);
      const double path = kSoftMu * chord(kLimb, x) + kBoneMu * bone + nailMu * chord(kNail, x);
      image->GetBufferPointer()[static_cast<std::size_t>(r) * columns + c] =
          static_cast<float>(1.0 - std::exp(-path));
    }
  }
  return image;
}

inline void writeText(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string readBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// A shell command's exit code and its stdout and stderr together.
struct CommandResult {
  int exitCode = -1;
  std::string output;
};

inline CommandResult runCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    return result;
  }
  std::array<char, 4096> buffer{};
  std::size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) {
    result.output.append(buffer.data(), n);
  }
  const int status = pclose(pipe);
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

/// dciodvfy (Debian dicom3tools) is on the PATH: the tests that use it skip
/// cleanly without it.
inline bool haveDciodvfy() {
  return std::system("command -v dciodvfy > /dev/null 2>&1") == 0;
}

/// What dciodvfy says of a file.
inline std::string dciodvfyOutput(const std::filesystem::path& file) {
  return runCommand("dciodvfy '" + file.string() + "'").output;
}

/// How many of the text's lines start with `prefix` (dciodvfy's "Error").
inline int linesStartingWith(const std::string& text, const std::string& prefix) {
  int count = 0;
  for (std::size_t at = 0; at < text.size();) {
    count += text.compare(at, prefix.size(), prefix) == 0 ? 1 : 0;
    const std::size_t end = text.find('\n', at);
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return count;
}

} // namespace unionscope::test
