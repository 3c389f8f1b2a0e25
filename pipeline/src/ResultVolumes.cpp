#include "unionscope/pipeline/ResultVolumes.h"

#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkNrrdImageIO.h>
#include <itkRegionOfInterestImageFilter.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>

namespace unionscope {
namespace {

namespace fs = std::filesystem;

/// Index box of the voxels `keep(index)` accepts, grown by `margin` voxels
/// and clipped to the image. Empty when none is accepted.
template <typename Image, typename Keep>
typename Image::RegionType boundingRegion(const Image& image, int margin, Keep&& keep) {
  const auto region = image.GetLargestPossibleRegion();
  const auto size = region.GetSize();
  std::array<long, 3> low{long(size[0]), long(size[1]), long(size[2])};
  std::array<long, 3> high{-1, -1, -1};
  typename Image::IndexType index;
  for (long k = 0; k < long(size[2]); ++k) {
    for (long j = 0; j < long(size[1]); ++j) {
      for (long i = 0; i < long(size[0]); ++i) {
        index = {{i, j, k}};
        if (keep(index)) {
          low = {std::min(low[0], i), std::min(low[1], j), std::min(low[2], k)};
          high = {std::max(high[0], i), std::max(high[1], j), std::max(high[2], k)};
        }
      }
    }
  }
  typename Image::RegionType box;
  if (high[0] < 0) {
    return box; // size 0
  }
  for (unsigned d = 0; d < 3; ++d) {
    const long from = std::max(0L, low[d] - margin);
    const long to = std::min(long(size[d]) - 1, high[d] + margin);
    box.SetIndex(d, from);
    box.SetSize(d, static_cast<itk::SizeValueType>(to - from + 1));
  }
  return box;
}

template <typename Image>
void writeNrrd(const Image& image, const typename Image::RegionType& region, const fs::path& file) {
  using Crop = itk::RegionOfInterestImageFilter<Image, Image>;
  auto crop = Crop::New();
  crop->SetInput(&image);
  crop->SetRegionOfInterest(region);
  auto writer = itk::ImageFileWriter<Image>::New();
  writer->SetImageIO(itk::NrrdImageIO::New());
  writer->SetInput(crop->GetOutput());
  writer->UseCompressionOn();
  fs::create_directories(file.parent_path());
  const fs::path temporary = file.string() + ".tmp.nrrd";
  writer->SetFileName(temporary.string());
  // NrrdIO keeps its error messages in one unguarded global buffer: when
  // writes fail together (a full disk fails every patient of a batch at
  // once) their messages would mix or free each other's. One write at a
  // time.
  static std::mutex writing;
  try {
    const std::lock_guard<std::mutex> oneWriteAtATime(writing);
    writer->Update();
    fs::rename(temporary, file);
  } catch (const std::exception& error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    throw std::runtime_error(file.string() + ": cannot write the volume: " + error.what());
  }
}

template <typename Image> typename Image::Pointer readNrrd(const fs::path& file) {
  if (!fs::is_regular_file(file)) {
    throw std::runtime_error(file.string() + ": no such volume");
  }
  auto reader = itk::ImageFileReader<Image>::New();
  reader->SetImageIO(itk::NrrdImageIO::New());
  reader->SetFileName(file.string());
  try {
    reader->Update();
  } catch (const std::exception& error) {
    throw std::runtime_error(file.string() + ": cannot read the volume: " + error.what());
  }
  typename Image::Pointer image = reader->GetOutput();
  image->DisconnectPipeline();
  return image;
}

} // namespace

WrittenVolumes writeResultVolumes(const MaskImage& labels, const CtImage& ct,
                                  const std::array<double, 3>& fractureCentre,
                                  const fs::path& outputDirectory, const std::string& stem) {
  WrittenVolumes written;
  written.labelMapFile = std::string(kVolumeOutputFolder) + "/" + stem + "_labels.nrrd";
  written.ctFile = std::string(kVolumeOutputFolder) + "/" + stem + "_ct.nrrd";
  const MaskImage::RegionType labelled = boundingRegion(
      labels, 1, [&](const MaskImage::IndexType& index) { return labels.GetPixel(index) != 0; });
  if (labelled.GetNumberOfPixels() == 0) {
    throw std::runtime_error(written.labelMapFile + ": the label map is empty");
  }
  writeNrrd(labels, labelled, outputDirectory / written.labelMapFile);

  // The CT where something is labelled within kCtKeptRadiusMm of the fracture.
  const double spacing = std::min({ct.GetSpacing()[0], ct.GetSpacing()[1], ct.GetSpacing()[2]});
  const int margin = static_cast<int>(std::ceil(5.0 / spacing));
  const CtImage::RegionType kept = boundingRegion(ct, margin, [&](const CtImage::IndexType& index) {
    if (labels.GetPixel(index) == 0) {
      return false;
    }
    itk::Point<double, 3> point;
    ct.TransformIndexToPhysicalPoint(index, point);
    const double dx = point[0] - fractureCentre[0];
    const double dy = point[1] - fractureCentre[1];
    const double dz = point[2] - fractureCentre[2];
    return dx * dx + dy * dy + dz * dz <= kCtKeptRadiusMm * kCtKeptRadiusMm;
  });
  writeNrrd(ct, kept.GetNumberOfPixels() > 0 ? kept : labelled, outputDirectory / written.ctFile);
  return written;
}

MaskImage::Pointer readLabelMap(const fs::path& file) {
  return readNrrd<MaskImage>(file);
}

CtImage::Pointer readCtVolume(const fs::path& file) {
  return readNrrd<CtImage>(file);
}

} // namespace unionscope
