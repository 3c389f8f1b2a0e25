#include "unionscope/pipeline/dicom/SeriesLoader.h"

#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/dicom/PixelDecoder.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <fmt/format.h>
#include <oneapi/tbb/parallel_for.h>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <numeric>

namespace unionscope::dicom {
namespace {

namespace fs = std::filesystem;
using Vec3 = std::array<double, 3>;

constexpr double kPi = 3.14159265358979323846;
constexpr std::int16_t kAirHu = -1024;

double dot(const Vec3& a, const Vec3& b) {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}
Vec3 cross(const Vec3& a, const Vec3& b) {
  return {a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]};
}
Vec3 sub(const Vec3& a, const Vec3& b) {
  return {a[0] - b[0], a[1] - b[1], a[2] - b[2]};
}
double norm(const Vec3& a) {
  return std::sqrt(dot(a, a));
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  return text;
}

/// Key of the geometry a slice must share with the others of its stack.
std::string stackKey(const DicomFileHeader& h) {
  const auto& o = *h.imageOrientationPatient;
  return fmt::format("{:.3f},{:.3f},{:.3f},{:.3f},{:.3f},{:.3f}|{}x{}", o[0], o[1], o[2], o[3],
                     o[4], o[5], h.columns, h.rows);
}

} // namespace

CtVolumePlan planCtVolume(const SeriesGroup& series, const VolumeRules& rules) {
  CtVolumePlan plan;
  // Split the series: localizers and images without geometry are left out,
  // the remaining images are grouped by orientation and size, and the
  // largest stack becomes the volume.
  std::map<std::string, std::vector<const DicomFileHeader*>> stacks;
  int localizers = 0;
  int noGeometry = 0;
  for (const DicomFileHeader& h : series.instances) {
    if (h.isLocalizer()) {
      ++localizers;
      continue;
    }
    const bool enhanced = !h.framePositions.empty();
    if (!h.imageOrientationPatient || !h.pixelSpacing || (!enhanced && !h.imagePositionPatient)) {
      ++noGeometry;
      continue;
    }
    stacks[stackKey(h)].push_back(&h);
  }
  if (localizers > 0) {
    plan.ignored.push_back(
        fmt::format("{} localizer image(s): projections, not slices", localizers));
  }
  if (noGeometry > 0) {
    plan.ignored.push_back(
        fmt::format("{} image(s) without Image Position/Orientation or Pixel Spacing", noGeometry));
  }
  if (stacks.empty()) {
    plan.rejectReason = "no CT slices with complete geometry";
    return plan;
  }
  const auto largest =
      std::max_element(stacks.begin(), stacks.end(), [](const auto& a, const auto& b) {
        return a.second.size() < b.second.size();
      });
  for (const auto& [key, images] : stacks) {
    if (&images != &largest->second) {
      plan.ignored.push_back(
          fmt::format("{} image(s) in another orientation or size", images.size()));
    }
  }
  // Several acquisitions of the same place in one series (a repeat, a
  // contrast phase): keep the largest acquisition, say what was left out.
  std::vector<const DicomFileHeader*> stack = largest->second;
  std::map<int, std::vector<const DicomFileHeader*>> byAcquisition;
  for (const DicomFileHeader* h : stack) {
    byAcquisition[h->acquisitionNumber.value_or(-1)].push_back(h);
  }
  if (byAcquisition.size() > 1) {
    std::map<std::string, int> positions;
    bool overlapping = false;
    for (const DicomFileHeader* h : stack) {
      if (h->imagePositionPatient) {
        const auto& p = *h->imagePositionPatient;
        overlapping =
            overlapping || ++positions[fmt::format("{:.2f},{:.2f},{:.2f}", p[0], p[1], p[2])] > 1;
      }
    }
    if (overlapping) {
      const auto kept = std::max_element(
          byAcquisition.begin(), byAcquisition.end(),
          [](const auto& a, const auto& b) { return a.second.size() < b.second.size(); });
      plan.ignored.push_back(
          fmt::format("{} image(s) of {} other acquisition(s) at the same positions",
                      stack.size() - kept->second.size(), byAcquisition.size() - 1));
      stack = kept->second;
    }
  }
  const DicomFileHeader& first = *stack.front();
  const auto& iop = *first.imageOrientationPatient;
  plan.rowDirection = {iop[0], iop[1], iop[2]};
  plan.columnDirection = {iop[3], iop[4], iop[5]};
  if (std::abs(norm(plan.rowDirection) - 1) > 0.01 ||
      std::abs(norm(plan.columnDirection) - 1) > 0.01 ||
      std::abs(dot(plan.rowDirection, plan.columnDirection)) > 0.01) {
    plan.rejectReason = "Image Orientation (Patient) is not two orthogonal unit vectors";
    return plan;
  }
  plan.normal = cross(plan.rowDirection, plan.columnDirection);
  plan.rowSpacing = (*first.pixelSpacing)[0];
  plan.columnSpacing = (*first.pixelSpacing)[1];
  plan.rows = first.rows;
  plan.columns = first.columns;
  plan.rescaleSlope = first.rescaleSlope;
  plan.rescaleIntercept = first.rescaleIntercept;
  if (!(plan.rowSpacing > 0 && plan.columnSpacing > 0)) {
    plan.rejectReason = "Pixel Spacing is not positive";
    return plan;
  }
  for (const DicomFileHeader* h : stack) {
    if (std::abs(h->rescaleSlope - plan.rescaleSlope) > 1e-9 ||
        std::abs(h->rescaleIntercept - plan.rescaleIntercept) > 1e-9) {
      plan.notes.push_back("rescale slope/intercept differ between slices (applied per slice)");
      break;
    }
  }
  for (const DicomFileHeader* h : stack) {
    if (h->framePositions.empty()) {
      plan.slices.push_back({h->path, 0, *h->imagePositionPatient, 0});
    } else {
      for (std::size_t f = 0; f < h->framePositions.size(); ++f) {
        plan.slices.push_back({h->path, static_cast<int>(f), h->framePositions[f], 0});
      }
    }
  }
  if (static_cast<int>(plan.slices.size()) < rules.minSlices) {
    plan.rejectReason = fmt::format("only {} slice(s): not a volume", plan.slices.size());
    return plan;
  }
  // Never by instance number or file name: by position along the normal.
  for (SliceSource& slice : plan.slices) {
    slice.distance = dot(slice.position, plan.normal);
  }
  std::stable_sort(
      plan.slices.begin(), plan.slices.end(),
      [](const SliceSource& a, const SliceSource& b) { return a.distance < b.distance; });
  std::vector<double> steps;
  for (std::size_t k = 1; k < plan.slices.size(); ++k) {
    steps.push_back(plan.slices[k].distance - plan.slices[k - 1].distance);
  }
  const double step = median(steps);
  if (!(step > 1e-3)) {
    plan.rejectReason = "slices share positions (duplicates or several acquisitions at one place)";
    return plan;
  }
  const double minStep = *std::min_element(steps.begin(), steps.end());
  const double maxStep = *std::max_element(steps.begin(), steps.end());
  if (minStep < step * rules.minStepFraction) {
    plan.rejectReason =
        fmt::format("slices {:.3g} mm apart where the usual spacing is {:.3g} mm: overlapping "
                    "reconstructions or a second acquisition in the series",
                    minStep, step);
    return plan;
  }
  int missing = 0;
  bool uneven = false;
  for (std::size_t k = 0; k < steps.size(); ++k) {
    const double ratio = steps[k] / step;
    const double whole = std::round(ratio);
    if (std::abs(ratio - 1) <= rules.uniformTolerance) {
      continue;
    }
    if (whole >= 2 && std::abs(ratio - whole) <= rules.uniformTolerance) {
      if (whole - 1 > rules.maxMissingSlicesInGap) {
        plan.rejectReason = fmt::format("{} slices missing after slice {} ({:.3g} mm gap)",
                                        static_cast<int>(whole - 1), k + 1, steps[k]);
        return plan;
      }
      missing += static_cast<int>(whole - 1);
    } else if (ratio > 1 + rules.maxSpacingVariation) {
      plan.rejectReason = fmt::format(
          "irregular gap of {:.3g} mm after slice {} (spacing {:.3g} mm)", steps[k], k + 1, step);
      return plan;
    } else {
      uneven = true;
    }
  }
  // Gantry tilt: the stack advances along a direction that is not the normal.
  const Vec3 travel = sub(plan.slices.back().position, plan.slices.front().position);
  const double travelLength = norm(travel);
  const double cosine = std::clamp(dot(travel, plan.normal) / travelLength, -1.0, 1.0);
  plan.gantryTiltDeg = std::acos(cosine) * 180.0 / kPi;
  if (plan.gantryTiltDeg > rules.tiltToleranceDeg) {
    plan.resampled = true;
    plan.notes.push_back(
        fmt::format("gantry tilt {:.2f} deg: slices shifted in plane onto an orthogonal grid",
                    plan.gantryTiltDeg));
  }
  plan.sliceSpacing = step;
  const double extent = plan.slices.back().distance - plan.slices.front().distance;
  plan.outputSlices = static_cast<int>(std::lround(extent / step)) + 1;
  if (missing > 0) {
    plan.resampled = true;
    plan.notes.push_back(
        fmt::format("{} missing slice(s) filled by linear interpolation", missing));
  }
  if (uneven) {
    plan.resampled = true;
    plan.notes.push_back(
        fmt::format("uneven slice spacing ({:.3g} to {:.3g} mm) resampled to {:.3g} mm", minStep,
                    maxStep, step));
  }
  return plan;
}

namespace {

/// Decodes every planned slice into HU (int16), in the plan's order.
std::vector<std::vector<std::int16_t>> decodeSlicesToHu(const CtVolumePlan& plan) {
  // Each file is decoded once even when it holds many frames.
  std::map<fs::path, std::vector<std::size_t>> byFile;
  for (std::size_t s = 0; s < plan.slices.size(); ++s) {
    byFile[plan.slices[s].file].push_back(s);
  }
  std::vector<std::pair<fs::path, std::vector<std::size_t>>> files(byFile.begin(), byFile.end());
  std::vector<std::vector<std::int16_t>> slices(plan.slices.size());
  const std::size_t pixels = static_cast<std::size_t>(plan.rows) * plan.columns;
  oneapi::tbb::parallel_for(std::size_t{0}, files.size(), [&](std::size_t f) {
    const auto& [file, sliceIndices] = files[f];
    const DecodedPixels decoded = decodePixels(file);
    if (decoded.rows != plan.rows || decoded.columns != plan.columns) {
      throw DicomError(fmt::format("{}: decoded size {}x{} differs from the header", file.string(),
                                   decoded.columns, decoded.rows));
    }
    const double slope = decoded.rescaleSlope;
    const double intercept = decoded.rescaleIntercept;
    const std::optional<std::int32_t> padding = decoded.pixelPaddingValue;
    for (std::size_t s : sliceIndices) {
      const std::int32_t* stored = decoded.frame(plan.slices[s].frame);
      std::vector<std::int16_t>& out = slices[s];
      out.resize(pixels);
      for (std::size_t i = 0; i < pixels; ++i) {
        if (padding && stored[i] == *padding) {
          out[i] = kAirHu;
          continue;
        }
        // Rescale in floating point: DicomImage would truncate a slope of 0.5.
        const double hu = std::nearbyint(stored[i] * slope + intercept);
        out[i] = static_cast<std::int16_t>(std::clamp(hu, double(kAirHu), 32767.0));
      }
    }
  });
  return slices;
}

/// Bilinear sample of a slice at fractional pixel (x, y); air outside.
double sampleSlice(const std::vector<std::int16_t>& slice, int columns, int rows, double x,
                   double y) {
  if (x < 0 || y < 0 || x > columns - 1 || y > rows - 1) {
    return kAirHu;
  }
  const int x0 = std::min(static_cast<int>(x), columns - 2 < 0 ? 0 : columns - 2);
  const int y0 = std::min(static_cast<int>(y), rows - 2 < 0 ? 0 : rows - 2);
  const int x1 = std::min(x0 + 1, columns - 1);
  const int y1 = std::min(y0 + 1, rows - 1);
  const double fx = x - x0;
  const double fy = y - y0;
  const auto at = [&](int xx, int yy) {
    return double(slice[static_cast<std::size_t>(yy) * columns + xx]);
  };
  return (1 - fx) * (1 - fy) * at(x0, y0) + fx * (1 - fy) * at(x1, y0) +
         (1 - fx) * fy * at(x0, y1) + fx * fy * at(x1, y1);
}

} // namespace

CtImage::Pointer loadCtVolume(const CtVolumePlan& plan) {
  if (!plan.ok()) {
    throw DicomError("no volume: " + plan.rejectReason);
  }
  const std::vector<std::vector<std::int16_t>> slices = decodeSlicesToHu(plan);
  auto volume = CtImage::New();
  CtImage::RegionType region;
  region.SetSize(
      {{static_cast<itk::SizeValueType>(plan.columns), static_cast<itk::SizeValueType>(plan.rows),
        static_cast<itk::SizeValueType>(plan.outputSlices)}});
  volume->SetRegions(region);
  const double spacing[3] = {plan.columnSpacing, plan.rowSpacing, plan.sliceSpacing};
  volume->SetSpacing(spacing);
  const Vec3& origin = plan.slices.front().position;
  volume->SetOrigin(origin.data());
  CtImage::DirectionType direction;
  for (int r = 0; r < 3; ++r) {
    direction(r, 0) = plan.rowDirection[r];
    direction(r, 1) = plan.columnDirection[r];
    direction(r, 2) = plan.normal[r];
  }
  volume->SetDirection(direction);
  volume->Allocate();
  const std::size_t pixels = static_cast<std::size_t>(plan.rows) * plan.columns;
  std::int16_t* out = volume->GetBufferPointer();

  if (!plan.resampled) {
    for (std::size_t k = 0; k < slices.size(); ++k) {
      std::copy(slices[k].begin(), slices[k].end(), out + k * pixels);
    }
    return volume;
  }
  // Each output slice lies at distance k * spacing along the normal; it is
  // interpolated between the two original slices around it, each sampled
  // where the output voxel falls in its (possibly sheared) plane.
  const double start = plan.slices.front().distance;
  oneapi::tbb::parallel_for(0, plan.outputSlices, [&](int k) {
    const double d = start + k * plan.sliceSpacing;
    const auto upper =
        std::lower_bound(plan.slices.begin(), plan.slices.end(), d,
                         [](const SliceSource& s, double value) { return s.distance < value; });
    const std::size_t b =
        std::min<std::size_t>(upper - plan.slices.begin(), plan.slices.size() - 1);
    const std::size_t a = b == 0 ? 0 : b - 1;
    const double span = plan.slices[b].distance - plan.slices[a].distance;
    const double wb = span > 0 ? std::clamp((d - plan.slices[a].distance) / span, 0.0, 1.0) : 1.0;
    // In-plane offset of each original slice relative to the orthogonal grid.
    const auto offset = [&](std::size_t s) {
      const Vec3 t = sub(plan.slices[s].position, origin);
      return std::pair{dot(t, plan.rowDirection) / plan.columnSpacing,
                       dot(t, plan.columnDirection) / plan.rowSpacing};
    };
    const auto [ax, ay] = offset(a);
    const auto [bx, by] = offset(b);
    std::int16_t* target = out + static_cast<std::size_t>(k) * pixels;
    for (int y = 0; y < plan.rows; ++y) {
      for (int x = 0; x < plan.columns; ++x) {
        const double va = sampleSlice(slices[a], plan.columns, plan.rows, x - ax, y - ay);
        const double vb = sampleSlice(slices[b], plan.columns, plan.rows, x - bx, y - by);
        target[static_cast<std::size_t>(y) * plan.columns + x] =
            static_cast<std::int16_t>(std::nearbyint((1 - wb) * va + wb * vb));
      }
    }
  });
  return volume;
}

RadiographPlan planRadiograph(const DicomFileHeader& h) {
  RadiographPlan plan;
  plan.file = h.path;
  plan.modality = h.modality;
  plan.monochrome1 = h.photometricInterpretation == "MONOCHROME1";
  if (h.photometricInterpretation != "MONOCHROME1" &&
      h.photometricInterpretation != "MONOCHROME2" && h.samplesPerPixel != 3) {
    plan.rejectReason = fmt::format("photometric interpretation '{}' is not a radiograph's",
                                    h.photometricInterpretation);
    return plan;
  }
  // View: View Position first, then the descriptions people type.
  const std::string position = upper(h.viewPosition);
  if (position == "AP" || position == "PA") {
    plan.view = "AP";
    plan.viewSource = "ViewPosition";
  } else if (position == "LL" || position == "RL" || position == "LAT" || position == "LATERAL" ||
             position == "LM" || position == "ML") {
    plan.view = "LAT";
    plan.viewSource = "ViewPosition";
  } else {
    for (const std::string* text : {&h.seriesDescription, &h.protocolName, &h.studyDescription}) {
      const std::string words = " " + upper(*text) + " ";
      const auto has = [&](const char* word) {
        for (const char* separator : {" ", "_", "-", "/", "^"}) {
          for (const char* after : {" ", "_", "-", "/", "^"}) {
            if (words.find(std::string(separator) + word + after) != std::string::npos) {
              return true;
            }
          }
        }
        return false;
      };
      if (has("LAT") || has("LATERAL") || has("LAT.")) {
        plan.view = "LAT";
      } else if (has("AP") || has("PA") || has("FRONTAL")) {
        plan.view = "AP";
      }
      if (plan.view != "unknown") {
        plan.viewSource = text == &h.seriesDescription ? "SeriesDescription"
                          : text == &h.protocolName    ? "ProtocolName"
                                                       : "StudyDescription";
        break;
      }
    }
  }
  if (h.laterality == "R" || h.laterality == "L") {
    plan.laterality = h.laterality;
  }
  // Patient Orientation "L\\F": the first value is where increasing
  // columns point; only a pure direction names the cortices reliably.
  const std::string columns =
      upper(h.patientOrientation.substr(0, h.patientOrientation.find('\\')));
  if (columns == "L" || columns == "R" || columns == "A" || columns == "P") {
    plan.columnsToward = columns[0];
  }
  if (h.pixelSpacing && (*h.pixelSpacing)[0] > 0) {
    plan.pixelSpacingMm = (*h.pixelSpacing)[0];
    plan.spacingSource = "PixelSpacing";
  } else if (h.imagerPixelSpacing && (*h.imagerPixelSpacing)[0] > 0) {
    if (h.magnificationFactor) {
      // To a nanometre: the quotient of two decimal strings carries binary
      // noise (0.19999999999999998) into every report that prints it.
      plan.pixelSpacingMm =
          std::round((*h.imagerPixelSpacing)[0] / *h.magnificationFactor * 1e6) / 1e6;
      plan.spacingSource = "ImagerPixelSpacing/ERMF";
    } else {
      plan.pixelSpacingMm = (*h.imagerPixelSpacing)[0];
      plan.spacingSource = "ImagerPixelSpacing (detector plane, magnification unknown)";
    }
  } else {
    plan.spacingSource = "unknown";
  }
  return plan;
}

namespace {

/// Modality LUT: a LUT Sequence when present, else rescale slope/intercept.
struct ModalityLut {
  std::vector<double> table;
  std::int32_t firstMapped = 0;
  double slope = 1, intercept = 0;
  double low = 0, high = 1; ///< output range, for normalisation

  [[nodiscard]] double apply(std::int32_t v) const {
    if (table.empty()) {
      return v * slope + intercept;
    }
    const auto index =
        std::clamp<std::int64_t>(std::int64_t(v) - firstMapped, 0, std::int64_t(table.size()) - 1);
    return table[static_cast<std::size_t>(index)];
  }
};

ModalityLut readModalityLut(const fs::path& file) {
  DcmFileFormat dcm;
  if (dcm.loadFile(OFFilename(file.c_str()), EXS_Unknown, EGL_noChange, 4096).bad()) {
    throw DicomError(file.string() + ": unreadable DICOM");
  }
  DcmDataset& ds = *dcm.getDataset();
  ModalityLut lut;
  Uint16 bitsStored = 0;
  Uint16 representation = 0;
  ds.findAndGetUint16(DCM_BitsStored, bitsStored);
  ds.findAndGetUint16(DCM_PixelRepresentation, representation);
  const int bits = std::clamp<int>(bitsStored, 1, 16);
  const double storedLow = representation == 1 ? -std::ldexp(1.0, bits - 1) : 0.0;
  const double storedHigh =
      representation == 1 ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
  DcmItem* item = nullptr;
  if (ds.findAndGetSequenceItem(DCM_ModalityLUTSequence, item, 0).good() && item != nullptr) {
    Uint16 entries = 0;
    Uint16 first = 0;
    item->findAndGetUint16(DCM_LUTDescriptor, entries, 0);
    item->findAndGetUint16(DCM_LUTDescriptor, first, 1);
    const unsigned long count = entries == 0 ? 65536UL : entries;
    const Uint16* data = nullptr;
    unsigned long available = 0;
    if (item->findAndGetUint16Array(DCM_LUTData, data, &available).good() && data != nullptr &&
        available >= count) {
      lut.table.assign(data, data + count);
      lut.firstMapped = representation == 1 ? static_cast<Sint16>(first) : first;
      // The table's own range: LUT bits state the container, not the content.
      const auto [low, high] = std::minmax_element(lut.table.begin(), lut.table.end());
      lut.low = *low;
      lut.high = *high;
      return lut;
    }
    // A broken LUT is not guessed around: fall through to rescale, noted by the caller.
  }
  Float64 value = 0;
  if (ds.findAndGetFloat64(DCM_RescaleSlope, value).good() && value != 0.0) {
    lut.slope = value;
  }
  if (ds.findAndGetFloat64(DCM_RescaleIntercept, value).good()) {
    lut.intercept = value;
  }
  lut.low = std::min(storedLow * lut.slope, storedHigh * lut.slope) + lut.intercept;
  lut.high = std::max(storedLow * lut.slope, storedHigh * lut.slope) + lut.intercept;
  return lut;
}

RadiographImage::Pointer makeRadiographImage(int columns, int rows, double spacingMm) {
  auto image = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize(
      {{static_cast<itk::SizeValueType>(columns), static_cast<itk::SizeValueType>(rows)}});
  image->SetRegions(region);
  const double spacing[2] = {spacingMm > 0 ? spacingMm : 1.0, spacingMm > 0 ? spacingMm : 1.0};
  image->SetSpacing(spacing);
  image->Allocate();
  return image;
}

} // namespace

RadiographImage::Pointer loadRadiograph(const RadiographPlan& plan) {
  if (!plan.ok()) {
    throw DicomError("no radiograph: " + plan.rejectReason);
  }
  const DecodedPixels decoded = decodePixels(plan.file);
  const ModalityLut lut = readModalityLut(plan.file);
  auto image = makeRadiographImage(decoded.columns, decoded.rows, plan.pixelSpacingMm);
  float* out = image->GetBufferPointer();
  const std::size_t pixels = static_cast<std::size_t>(decoded.rows) * decoded.columns;
  const double range = lut.high > lut.low ? lut.high - lut.low : 1.0;
  for (std::size_t i = 0; i < pixels; ++i) {
    const double v = std::clamp((lut.apply(decoded.values[i]) - lut.low) / range, 0.0, 1.0);
    // MONOCHROME1 shows low values bright: invert so that bone is bright.
    out[i] = static_cast<float>(plan.monochrome1 ? 1.0 - v : v);
  }
  return image;
}

PlainRadiograph loadPlainRadiograph(const fs::path& file, const std::string& viewHint) {
  PlainRadiograph result;
  result.plan.file = file;
  result.plan.modality = "plain image";
  result.plan.spacingSource = "unknown";
  if (viewHint == "AP" || viewHint == "LAT") {
    result.plan.view = viewHint;
    result.plan.viewSource = "command-line hint";
  }
  const cv::Mat pixels = cv::imread(file.string(), cv::IMREAD_GRAYSCALE | cv::IMREAD_ANYDEPTH);
  if (pixels.empty()) {
    throw DicomError(file.string() + ": not a readable PNG, JPEG or TIFF image");
  }
  if (static_cast<std::uint64_t>(pixels.rows) * static_cast<std::uint64_t>(pixels.cols) >
      (std::uint64_t{1} << 28U)) {
    throw DicomError(file.string() + ": image too large");
  }
  const double scale = pixels.depth() == CV_16U ? 65535.0 : pixels.depth() == CV_8U ? 255.0 : 1.0;
  result.image = makeRadiographImage(pixels.cols, pixels.rows, 0);
  float* out = result.image->GetBufferPointer();
  for (int y = 0; y < pixels.rows; ++y) {
    for (int x = 0; x < pixels.cols; ++x) {
      const double v = pixels.depth() == CV_16U  ? pixels.at<std::uint16_t>(y, x)
                       : pixels.depth() == CV_8U ? pixels.at<std::uint8_t>(y, x)
                                                 : pixels.at<float>(y, x);
      out[static_cast<std::size_t>(y) * pixels.cols + x] =
          static_cast<float>(std::clamp(v / scale, 0.0, 1.0));
    }
  }
  return result;
}

} // namespace unionscope::dicom
