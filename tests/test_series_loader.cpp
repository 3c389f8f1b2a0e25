#include "TestSupport.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/DicomWriter.h"
#include "unionscope/pipeline/dicom/PixelDecoder.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"
#include "unionscope/pipeline/dicom/UidFactory.h"
#include "unionscope/sample_data/Phantom.h"

#include <cmath>

using namespace unionscope;
using namespace unionscope::dicom;
namespace fs = std::filesystem;

namespace {

const fs::path kRealData = fs::path(UNIONSCOPE_SHARED_DIR) / "realdata";

/// The only series found under `root` (fails the test otherwise).
SeriesGroup onlySeries(const fs::path& root) {
  const ScanResult scan = scanDicom({root});
  EXPECT_EQ(scan.patients.size(), 1U);
  EXPECT_EQ(scan.patients.at(0).studies.size(), 1U);
  EXPECT_EQ(scan.patients.at(0).studies.at(0).series.size(), 1U);
  return scan.patients.at(0).studies.at(0).series.at(0);
}

/// Writes one slice per file at explicit positions and orientation, with the
/// HU that `hu(point)` gives, as a scanner with gantry tilt would.
template <typename Field>
void writeSlices(const fs::path& dir, const std::vector<std::array<double, 3>>& positions,
                 const std::array<double, 3>& row, const std::array<double, 3>& column,
                 unsigned size, double spacing, Field hu) {
  const UidFactory uids(99);
  PatientModule patient{"P", "Test^Tilt", "", ""};
  StudyModule study{uids.uid("study"), "20250101", "120000", "1", "", "", "", "", "", "", ""};
  SeriesModule series;
  series.instanceUid = uids.uid("series");
  series.frameOfReferenceUid = uids.uid("for");
  const std::array<double, 3> normal{row[1] * column[2] - row[2] * column[1],
                                     row[2] * column[0] - row[0] * column[2],
                                     row[0] * column[1] - row[1] * column[0]};
  for (std::size_t k = 0; k < positions.size(); ++k) {
    auto slice = CtImage::New();
    CtImage::RegionType region;
    region.SetSize({{size, size, 1}});
    slice->SetRegions(region);
    const double spacings[3] = {spacing, spacing, 1.0};
    slice->SetSpacing(spacings);
    slice->SetOrigin(positions[k].data());
    CtImage::DirectionType direction;
    for (int r = 0; r < 3; ++r) {
      direction(r, 0) = row[r];
      direction(r, 1) = column[r];
      direction(r, 2) = normal[r];
    }
    slice->SetDirection(direction);
    slice->Allocate();
    for (unsigned j = 0; j < size; ++j) {
      for (unsigned i = 0; i < size; ++i) {
        CtImage::PointType p;
        slice->TransformIndexToPhysicalPoint({{long(i), long(j), 0}}, p);
        slice->SetPixel({{long(i), long(j), 0}}, static_cast<std::int16_t>(hu(p)));
      }
    }
    writeCtSeries(*slice, dir, patient, study, series, {uids.uid("sop/" + std::to_string(k))}, {},
                  "S" + std::to_string(1000 + k) + "_");
  }
}

} // namespace

TEST(SeriesLoader, PhantomSeriesShuffledAndRenamedReadsBackExactly) {
  test::TempDir dir;
  phantom::PatientSpec spec =
      phantom::makePatientSpec(17, phantom::Scenario::NormalHealing, phantom::Implant::Nail,
                               phantom::SizePreset::Small, {12});
  for (int encoding : {0, 1, 2}) {
    SCOPED_TRACE("encoding " + std::to_string(encoding));
    spec.ctEncoding = encoding;
    const fs::path out = dir.path() / std::to_string(encoding);
    phantom::writePatient(spec, out);
    // Rename every CT file to a meaningless name in a reversed, nested order.
    const fs::path ctDir = out / "dicom" / "W12" / "CT";
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(ctDir)) {
      files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    const fs::path shuffled = dir.path() / ("shuffled" + std::to_string(encoding));
    for (std::size_t i = 0; i < files.size(); ++i) {
      const fs::path target =
          shuffled / std::to_string(i % 3) / ("x" + std::to_string((i * 37) % 101));
      fs::create_directories(target.parent_path());
      fs::rename(files[files.size() - 1 - i], target);
    }
    const SeriesGroup series = onlySeries(shuffled);
    const CtVolumePlan plan = planCtVolume(series);
    ASSERT_TRUE(plan.ok()) << plan.rejectReason;
    EXPECT_FALSE(plan.resampled);
    EXPECT_TRUE(plan.notes.empty());
    const CtImage::Pointer loaded = loadCtVolume(plan);
    const phantom::VisitVolume truth = phantom::renderVisitCt(spec, 0);
    ASSERT_EQ(loaded->GetLargestPossibleRegion(), truth.hu->GetLargestPossibleRegion());
    for (int a = 0; a < 3; ++a) {
      EXPECT_NEAR(loaded->GetSpacing()[a], truth.hu->GetSpacing()[a], 1e-6);
      EXPECT_NEAR(loaded->GetOrigin()[a], truth.hu->GetOrigin()[a], 1e-4);
    }
    const std::size_t count = loaded->GetLargestPossibleRegion().GetNumberOfPixels();
    std::size_t different = 0;
    for (std::size_t i = 0; i < count; ++i) {
      different += loaded->GetBufferPointer()[i] != truth.hu->GetBufferPointer()[i] ? 1 : 0;
    }
    EXPECT_EQ(different, 0U);
  }
}

TEST(SeriesLoader, MissingSliceIsInterpolatedAndSaid) {
  test::TempDir dir;
  const UidFactory uids(5);
  auto volume = test::makeRampVolume(8, 6, 9, {0.5, 0.5, 1.0}, {0, 0, 0});
  std::vector<std::string> sops;
  for (int k = 0; k < 9; ++k) {
    sops.push_back(uids.uid("sop" + std::to_string(k)));
  }
  SeriesModule series;
  series.instanceUid = uids.uid("series");
  const auto files = writeCtSeries(
      *volume, dir.path(), {"P", "", "", ""},
      {uids.uid("study"), "20250101", "", "", "", "", "", "", "", "", ""}, series, sops);
  fs::remove(files[4]);
  const CtVolumePlan plan = planCtVolume(onlySeries(dir.path()));
  ASSERT_TRUE(plan.ok()) << plan.rejectReason;
  EXPECT_TRUE(plan.resampled);
  ASSERT_EQ(plan.notes.size(), 1U);
  EXPECT_NE(plan.notes[0].find("1 missing slice"), std::string::npos) << plan.notes[0];
  EXPECT_EQ(plan.outputSlices, 9);
  const CtImage::Pointer loaded = loadCtVolume(plan);
  // The ramp is linear along k, so interpolation restores it exactly.
  for (long k = 0; k < 9; ++k) {
    EXPECT_EQ(loaded->GetPixel({{3, 2, k}}), volume->GetPixel({{3, 2, k}})) << k;
  }

  fs::remove(files[5]);
  fs::remove(files[6]);
  fs::remove(files[7]);
  const CtVolumePlan refused = planCtVolume(onlySeries(dir.path()));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.rejectReason.find("4 slices missing"), std::string::npos)
      << refused.rejectReason;
}

TEST(SeriesLoader, GantryTiltIsResampledOntoAnOrthogonalGrid) {
  test::TempDir dir;
  // A cylinder along the scanner z axis, imaged with the gantry tilted 15
  // degrees: slices advance along z but their planes are tilted.
  const double tilt = 15.0 * M_PI / 180.0;
  const std::array<double, 3> row{1, 0, 0};
  const std::array<double, 3> column{0, std::cos(tilt), -std::sin(tilt)};
  std::vector<std::array<double, 3>> positions;
  for (int k = 0; k < 24; ++k) {
    positions.push_back({-20.0, -20.0, -30.0 + 2.0 * k});
  }
  const auto cylinder = [](const CtImage::PointType& p) {
    return std::hypot(p[0] - 2.0, p[1] - 3.0) < 8.0 ? 1000.0 : 0.0;
  };
  writeSlices(dir.path(), positions, row, column, 64, 0.7, cylinder);
  const CtVolumePlan plan = planCtVolume(onlySeries(dir.path()));
  ASSERT_TRUE(plan.ok()) << plan.rejectReason;
  EXPECT_NEAR(plan.gantryTiltDeg, 15.0, 0.01);
  EXPECT_TRUE(plan.resampled);
  const CtImage::Pointer volume = loadCtVolume(plan);
  // Every voxel away from the cylinder's edge and inside the field of every
  // source slice shows the cylinder where it physically is.
  const auto size = volume->GetLargestPossibleRegion().GetSize();
  std::size_t checked = 0;
  std::size_t wrong = 0;
  for (long k = 2; k < long(size[2]) - 2; ++k) {
    for (long j = 8; j < long(size[1]) - 8; ++j) {
      for (long i = 0; i < long(size[0]); ++i) {
        CtImage::PointType p;
        volume->TransformIndexToPhysicalPoint({{i, j, k}}, p);
        const double r = std::hypot(p[0] - 2.0, p[1] - 3.0);
        if (std::abs(r - 8.0) < 1.5) {
          continue;
        }
        const std::int16_t value = volume->GetPixel({{i, j, k}});
        if (value == -1024) {
          continue; // outside the field of the sheared source slice
        }
        ++checked;
        wrong += (value > 500) != (r < 8.0) ? 1 : 0;
      }
    }
  }
  EXPECT_GT(checked, 10000U);
  EXPECT_EQ(wrong, 0U);
}

TEST(SeriesLoader, Monochrome1RadiographIsInvertedToBoneBright) {
  test::TempDir dir;
  phantom::PatientSpec spec = phantom::makePatientSpec(
      3, phantom::Scenario::NormalHealing, phantom::Implant::None, phantom::SizePreset::Small, {6});
  spec.monochrome1 = false;
  phantom::writePatient(spec, dir.path() / "mono2");
  spec.monochrome1 = true;
  phantom::writePatient(spec, dir.path() / "mono1");
  RadiographImage::Pointer images[2];
  int index = 0;
  for (const char* variant : {"mono2", "mono1"}) {
    const HeaderReadResult header = readDicomHeader(dir.path() / variant / "dicom/W06/DX_AP.dcm");
    ASSERT_TRUE(header.header) << header.rejectReason;
    const RadiographPlan plan = planRadiograph(*header.header);
    ASSERT_TRUE(plan.ok()) << plan.rejectReason;
    EXPECT_EQ(plan.view, "AP");
    EXPECT_EQ(plan.laterality, std::string(1, spec.laterality));
    EXPECT_EQ(plan.spacingSource, "ImagerPixelSpacing/ERMF");
    EXPECT_NEAR(plan.pixelSpacingMm, spec.radiographPixelMm, 1e-9);
    // Exactly the decimal value: the report prints 0.2, not 0.19999999999999998.
    EXPECT_EQ(plan.pixelSpacingMm, spec.radiographPixelMm);
    EXPECT_EQ(plan.monochrome1, index == 1);
    images[index++] = loadRadiograph(plan);
  }
  const std::size_t count = images[0]->GetLargestPossibleRegion().GetNumberOfPixels();
  double maxDifference = 0;
  for (std::size_t i = 0; i < count; ++i) {
    maxDifference = std::max(maxDifference, double(std::abs(images[0]->GetBufferPointer()[i] -
                                                            images[1]->GetBufferPointer()[i])));
  }
  EXPECT_LT(maxDifference, 1e-6);
}

TEST(SeriesLoader, LosslessTransferSyntaxesDecodeBitExactAgainstTheReference) {
  const fs::path wg04 = kRealData / "dicom_wg04";
  if (!fs::exists(wg04 / "REF")) {
    GTEST_SKIP() << "no ../shared/realdata/dicom_wg04";
  }
  struct Variant {
    const char* folder;
    std::int32_t maxDifference; // MANIFEST.md: GDCM/pydicom ground truth
  };
  const Variant variants[] = {{"J2KR", 0}, {"JLSL", 0}, {"JPLL", 0},
                              {"RLE", 0},  {"JLSN", 4}, {"J2KI", 402}};
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(wg04 / "REF")) {
    const std::string stem = entry.path().filename().string().substr(0, 3); // CT1, CT2, RG2, RG3
    const DecodedPixels reference = decodePixels(entry.path());
    for (const Variant& variant : variants) {
      for (const auto& candidate : fs::directory_iterator(wg04 / variant.folder)) {
        if (candidate.path().filename().string().substr(0, 3) != stem) {
          continue;
        }
        SCOPED_TRACE(candidate.path().string());
        const DecodedPixels decoded = decodePixels(candidate.path());
        ASSERT_EQ(decoded.values.size(), reference.values.size());
        std::int32_t worst = 0;
        for (std::size_t i = 0; i < decoded.values.size(); ++i) {
          worst = std::max(worst, std::abs(decoded.values[i] - reference.values[i]));
        }
        EXPECT_LE(worst, variant.maxDifference);
        ++compared;
      }
    }
  }
  EXPECT_GE(compared, 16);
}

TEST(SeriesLoader, RealJpeg2000SeriesWithoutUidsBecomesAVolume) {
  const fs::path series = kRealData / "ct_j2k_series";
  if (!fs::exists(series)) {
    GTEST_SKIP() << "no ../shared/realdata/ct_j2k_series";
  }
  const CtVolumePlan plan = planCtVolume(onlySeries(series));
  ASSERT_TRUE(plan.ok()) << plan.rejectReason;
  EXPECT_EQ(plan.outputSlices, 20);
  EXPECT_NEAR(plan.sliceSpacing, 2.0, 1e-3);
  const CtImage::Pointer volume = loadCtVolume(plan);
  const std::size_t count = volume->GetLargestPossibleRegion().GetNumberOfPixels();
  std::size_t air = 0;
  std::size_t bone = 0;
  for (std::size_t i = 0; i < count; ++i) {
    air += volume->GetBufferPointer()[i] < -900 ? 1 : 0;
    bone += volume->GetBufferPointer()[i] > 700 ? 1 : 0;
  }
  EXPECT_GT(air, count / 10);
  EXPECT_GT(bone, 1000U);
}

TEST(SeriesLoader, RealGantryTiltedSeriesIsResampledAndSaysSo) {
  const fs::path series = kRealData / "dicom_misc" / "dcm_qa_ct_GE_tilt";
  if (!fs::exists(series)) {
    GTEST_SKIP() << "no ../shared/realdata/dicom_misc/dcm_qa_ct_GE_tilt";
  }
  const CtVolumePlan plan = planCtVolume(onlySeries(series));
  ASSERT_TRUE(plan.ok()) << plan.rejectReason;
  EXPECT_NEAR(plan.gantryTiltDeg, 18.5, 0.05);
  EXPECT_TRUE(plan.resampled);
  const CtImage::Pointer volume = loadCtVolume(plan);
  EXPECT_EQ(static_cast<int>(volume->GetLargestPossibleRegion().GetSize()[2]), plan.outputSlices);
}

TEST(SeriesLoader, RealRadiographsLoadWithTheirLookupTables) {
  const fs::path folder = kRealData / "dicom_misc" / "radiographs_cr_dx";
  if (!fs::exists(folder)) {
    GTEST_SKIP() << "no ../shared/realdata/dicom_misc/radiographs_cr_dx";
  }
  for (const char* name :
       {"CR-MONO1-10-chest", "CR-ModalitySequenceLUT.dcm", "Issue44_Monochrome1-Jpeg.dcm"}) {
    SCOPED_TRACE(name);
    const HeaderReadResult header = readDicomHeader(folder / name);
    ASSERT_TRUE(header.header) << header.rejectReason;
    const RadiographPlan plan = planRadiograph(*header.header);
    ASSERT_TRUE(plan.ok()) << plan.rejectReason;
    const RadiographImage::Pointer image = loadRadiograph(plan);
    const std::size_t count = image->GetLargestPossibleRegion().GetNumberOfPixels();
    double sum = 0;
    float low = 1;
    float high = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const float v = image->GetBufferPointer()[i];
      sum += v;
      low = std::min(low, v);
      high = std::max(high, v);
    }
    // Not blank and not saturated: the intensities span a real range.
    EXPECT_GT(high - low, 0.2F);
    EXPECT_GT(sum / count, 0.02);
    EXPECT_LT(sum / count, 0.98);
  }
}

TEST(SeriesLoader, PydicomConformanceSetLosslessVariantsAgree) {
  const fs::path files = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  if (!fs::exists(files / "MR_small.dcm")) {
    GTEST_SKIP() << "Debian's python3-pydicom is not installed";
  }
  const DecodedPixels reference = decodePixels(files / "MR_small.dcm");
  ASSERT_EQ(reference.columns, 64);
  for (const char* variant :
       {"MR_small_RLE.dcm", "MR_small_bigendian.dcm", "MR_small_expb.dcm", "MR_small_implicit.dcm",
        "MR_small_jp2klossless.dcm", "MR_small_jpeg_ls_lossless.dcm"}) {
    SCOPED_TRACE(variant);
    const DecodedPixels decoded = decodePixels(files / variant);
    EXPECT_EQ(decoded.values, reference.values);
  }
  // The same for a multi-frame dose grid in RLE and big endian.
  const DecodedPixels dose = decodePixels(files / "rtdose.dcm");
  EXPECT_EQ(decodePixels(files / "rtdose_rle.dcm").values, dose.values);
  EXPECT_EQ(decodePixels(files / "rtdose_expb.dcm").values, dose.values);
}

TEST(SeriesLoader, EveryPydicomFileDecodesOrFailsWithAReason) {
  const fs::path files = "/usr/lib/python3/dist-packages/pydicom/data/test_files";
  if (!fs::exists(files)) {
    GTEST_SKIP() << "Debian's python3-pydicom is not installed";
  }
  const ScanResult scan = scanDicom({files});
  std::size_t decoded = 0;
  std::size_t failed = 0;
  for (const PatientGroup& patient : scan.patients) {
    for (const StudyGroup& study : patient.studies) {
      for (const SeriesGroup& series : study.series) {
        for (const DicomFileHeader& instance : series.instances) {
          try {
            const DecodedPixels pixels = decodePixels(instance.path);
            EXPECT_EQ(pixels.values.size(),
                      static_cast<std::size_t>(pixels.rows) * pixels.columns * pixels.frames);
            ++decoded;
          } catch (const DicomError& error) {
            // The reason names the file.
            EXPECT_NE(std::string(error.what()).find(instance.path.filename().string()),
                      std::string::npos);
            ++failed;
          }
        }
      }
    }
  }
  EXPECT_GT(decoded, 40U);
  EXPECT_LT(failed, decoded);
}

TEST(SeriesLoader, PlainImageExportsAreFoundAndReadAsRadiographs) {
  test::TempDir dir;
  const phantom::PatientSpec spec = phantom::makePatientSpec(
      6, phantom::Scenario::NormalHealing, phantom::Implant::None, phantom::SizePreset::Small, {6});
  phantom::writePatient(spec, dir.path(), /*previews=*/true);
  const ScanResult scan = scanDicom({dir.path() / "preview"});
  EXPECT_TRUE(scan.rejected.empty());
  EXPECT_TRUE(scan.patients.empty());
  ASSERT_EQ(scan.plainImages.size(), 5U); // axial, coronal, AP, lateral PNGs and the JPEG sheet
  const PlainRadiograph radiograph =
      loadPlainRadiograph(dir.path() / "preview" / "W06_dx_ap.png", "AP");
  EXPECT_EQ(radiograph.plan.view, "AP");
  EXPECT_EQ(radiograph.plan.viewSource, "command-line hint");
  EXPECT_EQ(radiograph.plan.spacingSource, "unknown");
  const auto size = radiograph.image->GetLargestPossibleRegion().GetSize();
  EXPECT_GT(size[0], 100U);
  float high = 0;
  for (std::size_t i = 0; i < size[0] * size[1]; ++i) {
    high = std::max(high, radiograph.image->GetBufferPointer()[i]);
  }
  EXPECT_GT(high, 0.5F);
  EXPECT_THROW(loadPlainRadiograph(dir.path() / "truth.json"), DicomError);

  const fs::path fracatlas = kRealData / "fracatlas";
  if (fs::exists(fracatlas)) {
    const ScanResult real = scanDicom({fracatlas});
    EXPECT_GE(real.plainImages.size(), 40U);
    for (const fs::path& file : real.plainImages) {
      EXPECT_NO_THROW(loadPlainRadiograph(file)) << file;
    }
  }
}
