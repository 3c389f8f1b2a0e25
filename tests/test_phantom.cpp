#include "TestSupport.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"
#include "unionscope/sample_data/Phantom.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <nlohmann/json.hpp>
#include <oneapi/tbb/global_control.h>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

using namespace unionscope;
using namespace unionscope::phantom;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json readJson(const fs::path& path) {
  std::ifstream in(path);
  return json::parse(in);
}

struct Vec {
  double x, y, z;
};
Vec vec(const json& a) {
  return {a[0].get<double>(), a[1].get<double>(), a[2].get<double>()};
}
double dot(const Vec& a, const Vec& b) {
  return a.x * b.x + a.y * b.y + a.z * b.z;
}

/// Measures, from the label voxels alone, which share of each cortex's arc has
/// mineralised tissue (cortex or callus) in the middle of the fracture gap:
/// the voxel-level counterpart of truth's bridged_fraction.
std::array<double, 4> measuredBridgedFractions(const VisitVolume& visit, const json& timepoint,
                                               double gapMm, double radiusMm) {
  const Vec centre = vec(timepoint["fracture_center_lps"]);
  const Vec normal = vec(timepoint["fracture_normal_lps"]);
  const Vec medial = vec(timepoint["medial_lps"]);
  const Vec anterior = vec(timepoint["anterior_lps"]);
  constexpr int kBinDeg = 5;
  std::array<bool, 360 / kBinDeg> mineral{};
  std::array<bool, 360 / kBinDeg> seen{};
  const auto& labels = *visit.labels;
  const auto size = labels.GetLargestPossibleRegion().GetSize();
  for (unsigned k = 0; k < size[2]; ++k) {
    for (unsigned j = 0; j < size[1]; ++j) {
      for (unsigned i = 0; i < size[0]; ++i) {
        const MaskImage::IndexType index{{long(i), long(j), long(k)}};
        MaskImage::PointType p;
        labels.TransformIndexToPhysicalPoint(index, p);
        const Vec d{p[0] - centre.x, p[1] - centre.y, p[2] - centre.z};
        if (std::abs(dot(d, normal)) > gapMm * 0.25) {
          continue;
        }
        const double xm = dot(d, medial);
        const double ya = dot(d, anterior);
        const double r = std::hypot(xm, ya);
        if (r < radiusMm * 0.55 || r > radiusMm * 1.25 + 3.0) {
          continue; // the shell of cortex and callus only, not the fibula or canal
        }
        const double theta = std::atan2(ya, xm) * 180.0 / M_PI;
        const int bin = static_cast<int>(std::floor((theta + 360.0) / kBinDeg)) % (360 / kBinDeg);
        seen[bin] = true;
        const auto label = labels.GetPixel(index);
        if (label == kCortex || label == kCallus) {
          mineral[bin] = true;
        }
      }
    }
  }
  // Sector centres: anterior 90, posterior -90 (270), medial 0, lateral 180.
  const std::array<double, 4> centres{90, 270, 0, 180};
  std::array<double, 4> fractions{};
  for (std::size_t c = 0; c < 4; ++c) {
    int total = 0;
    int bridged = 0;
    for (int bin = 0; bin < 360 / kBinDeg; ++bin) {
      const double mid = bin * kBinDeg + kBinDeg / 2.0;
      const double distance = std::abs(std::remainder(mid - centres[c], 360.0));
      if (distance >= 45.0 || !seen[bin]) {
        continue;
      }
      ++total;
      bridged += mineral[bin] ? 1 : 0;
    }
    fractions[c] = total > 0 ? double(bridged) / total : -1;
  }
  return fractions;
}

} // namespace

TEST(Phantom, RenderingIsIdenticalWhateverTheThreadCount) {
  const PatientSpec spec =
      makePatientSpec(21, Scenario::NormalHealing, Implant::Nail, SizePreset::Small);
  VisitVolume one;
  {
    oneapi::tbb::global_control single(oneapi::tbb::global_control::max_allowed_parallelism, 1);
    one = renderVisitCt(spec, 1);
  }
  const VisitVolume many = renderVisitCt(spec, 1);
  const std::size_t count = one.hu->GetLargestPossibleRegion().GetNumberOfPixels();
  EXPECT_TRUE(std::equal(one.hu->GetBufferPointer(), one.hu->GetBufferPointer() + count,
                         many.hu->GetBufferPointer()));
  EXPECT_EQ(one.callusVolumeMm3, many.callusVolumeMm3);
}

TEST(Phantom, SameSeedWritesSameBytes) {
  test::TempDir a;
  test::TempDir b;
  const PatientSpec spec =
      makePatientSpec(5, Scenario::PartialBridging, Implant::Plate, SizePreset::Small, {6, 12});
  writePatient(spec, a.path());
  writePatient(spec, b.path());
  EXPECT_EQ(test::readBytes(a.path() / "truth.json"), test::readBytes(b.path() / "truth.json"));
  for (const char* file :
       {"dicom/W06/CT/CT0010.dcm", "dicom/W12/DX_AP.dcm", "dicom/W12/DX_LAT.dcm"}) {
    const std::string bytes = test::readBytes(a.path() / file);
    EXPECT_FALSE(bytes.empty()) << file;
    EXPECT_EQ(bytes, test::readBytes(b.path() / file)) << file;
  }
}

TEST(Phantom, DicomHeadersCarryGeometryRescaleAndTrialTags) {
  test::TempDir dir;
  PatientSpec spec = makePatientSpec(8, Scenario::NormalHealing, Implant::None, SizePreset::Small);
  spec.ctEncoding = 2; // slope 0.5: readers must not truncate it
  spec.monochrome1 = true;
  spec.laterality = 'L';
  writePatient(spec, dir.path());
  const json truth = readJson(dir.path() / "truth.json");

  const dicom::ScanResult scan = dicom::scanDicom({dir.path() / "dicom"});
  EXPECT_TRUE(scan.rejected.empty());
  ASSERT_EQ(scan.patients.size(), 1U);
  ASSERT_EQ(scan.patients[0].studies.size(), 3U);
  for (std::size_t v = 0; v < 3; ++v) {
    const dicom::StudyGroup& study = scan.patients[0].studies[v];
    EXPECT_EQ(study.studyInstanceUid, truth["timepoints"][v]["study_instance_uid"]);
    ASSERT_EQ(study.series.size(), 3U);
    for (const dicom::SeriesGroup& series : study.series) {
      EXPECT_EQ(series.instances[0].clinicalTrialTimePointId, truth["timepoints"][v]["label"]);
      EXPECT_EQ(series.instances[0].laterality, "L");
      if (series.modality == "CT") {
        EXPECT_EQ(series.instances.size(), static_cast<std::size_t>(spec.voxels[2]));
      }
    }
  }
  EXPECT_EQ(truth["timepoints"][0]["study_date"], "2025-04-14"); // injury 2025-03-03 + 6 weeks

  DcmFileFormat ct;
  ASSERT_TRUE(ct.loadFile((dir.path() / "dicom/W12/CT/CT0001.dcm").c_str()).good());
  Float64 slope = 0;
  ASSERT_TRUE(ct.getDataset()->findAndGetFloat64(DCM_RescaleSlope, slope).good());
  EXPECT_DOUBLE_EQ(slope, 0.5);
  Float64 pixelSpacing = 0;
  ASSERT_TRUE(ct.getDataset()->findAndGetFloat64(DCM_PixelSpacing, pixelSpacing, 1).good());
  EXPECT_DOUBLE_EQ(pixelSpacing, spec.spacingMm[0]);

  DcmFileFormat dx;
  ASSERT_TRUE(dx.loadFile((dir.path() / "dicom/W12/DX_LAT.dcm").c_str()).good());
  OFString value;
  dx.getDataset()->findAndGetOFString(DCM_PhotometricInterpretation, value);
  EXPECT_EQ(value, "MONOCHROME1");
  dx.getDataset()->findAndGetOFString(DCM_ViewPosition, value);
  EXPECT_EQ(value, "LL");
  dx.getDataset()->findAndGetOFString(DCM_ImageLaterality, value);
  EXPECT_EQ(value, "L");
  Float64 imagerSpacing = 0;
  Float64 ermf = 0;
  dx.getDataset()->findAndGetFloat64(DCM_ImagerPixelSpacing, imagerSpacing);
  dx.getDataset()->findAndGetFloat64(DCM_EstimatedRadiographicMagnificationFactor, ermf);
  EXPECT_NEAR(imagerSpacing / ermf, spec.radiographPixelMm, 1e-6);
}

TEST(Phantom, TruthFollowsTheScenario) {
  test::TempDir dir;
  struct Case {
    Scenario scenario;
    bool unites;
  };
  for (const Case c : {Case{Scenario::NormalHealing, true}, Case{Scenario::AtrophicNonunion, false},
                       Case{Scenario::HypertrophicNonunion, false}}) {
    for (std::uint64_t seed : {1U, 2U, 3U}) {
      PatientSpec spec = makePatientSpec(seed, c.scenario, Implant::None, SizePreset::Small);
      for (const VisitPlan& visit : spec.visits) {
        for (const CortexState& s : visit.cortices) {
          if (s.category == CortexCategory::BridgingCallus) {
            EXPECT_GE(s.bridgedFraction, 0.25);
            EXPECT_LT(s.bridgedFraction, 1.0 + 1e-12);
          }
          if (s.category == CortexCategory::NoCallus) {
            EXPECT_EQ(s.callusThicknessMm, 0.0);
          }
        }
      }
      CortexScores last;
      for (std::size_t i = 0; i < 4; ++i) {
        last[i].category = spec.visits.back().cortices[i].category;
      }
      EXPECT_EQ(computeUnionScores(last).union_, c.unites)
          << scenarioName(c.scenario) << " seed " << seed;
    }
  }
}

TEST(Phantom, RadiographMetalTruthCoversTheImplantAndNothingElse) {
  for (const Implant implant : {Implant::None, Implant::Nail, Implant::Plate}) {
    test::TempDir dir;
    PatientSpec spec = makePatientSpec(7, Scenario::NormalHealing, implant, SizePreset::Small, {6});
    spec.monochrome1 = false;
    writePatient(spec, dir.path());
    const json truth = readJson(dir.path() / "truth.json");
    for (const json& series : truth["timepoints"][0]["series"]) {
      if (series["modality"] != "DX") {
        continue;
      }
      const std::string label =
          std::string(implantName(implant)) + " " + series["view"].get<std::string>();
      const cv::Mat mask = cv::imread(
          (dir.path() / series["metal_mask"].get<std::string>()).string(), cv::IMREAD_GRAYSCALE);
      ASSERT_FALSE(mask.empty()) << label;
      const dicom::ScanResult scan =
          dicom::scanDicom({dir.path() / series["source_files"][0].get<std::string>()});
      const RadiographImage::Pointer image = dicom::loadRadiograph(
          dicom::planRadiograph(scan.patients.at(0).studies.at(0).series.at(0).instances.at(0)));
      const auto size = image->GetLargestPossibleRegion().GetSize();
      ASSERT_EQ(mask.cols, static_cast<int>(size[0])) << label;
      ASSERT_EQ(mask.rows, static_cast<int>(size[1])) << label;
      const cv::Mat pixels(mask.rows, mask.cols, CV_32F, image->GetBufferPointer());
      const int metal = cv::countNonZero(mask);
      if (implant == Implant::None) {
        EXPECT_EQ(metal, 0) << label;
        continue;
      }
      ASSERT_GT(metal, 0) << label;
      // Metal is the brightest thing on the film: the brightest pixels lie
      // on the mask (within its blurred rim), and most of the mask is
      // brighter than nearly all of the rest.
      cv::Mat rim;
      cv::dilate(mask, rim, cv::Mat(), cv::Point(-1, -1), 2);
      const cv::Mat brightest = pixels >= 0.95F;
      ASSERT_GT(cv::countNonZero(brightest), 0) << label;
      EXPECT_GE(cv::countNonZero(brightest & rim), 0.95 * cv::countNonZero(brightest)) << label;
      std::vector<float> rest;
      for (int y = 0; y < mask.rows; ++y) {
        for (int x = 0; x < mask.cols; ++x) {
          if (rim.at<std::uint8_t>(y, x) == 0) {
            rest.push_back(pixels.at<float>(y, x));
          }
        }
      }
      std::nth_element(rest.begin(), rest.begin() + rest.size() * 99 / 100, rest.end());
      const float restTop = rest[rest.size() * 99 / 100];
      EXPECT_GT(cv::countNonZero(mask & (pixels > restTop)), 0.5 * metal) << label;
      // A nail runs down the canal through the fracture: the mask covers the
      // middle of the true fracture line.
      if (implant == Implant::Nail) {
        const json& line = series["fracture_line"];
        const cv::Point middle(
            static_cast<int>(0.5 * (line[0][0].get<double>() + line[1][0].get<double>())),
            static_cast<int>(0.5 * (line[0][1].get<double>() + line[1][1].get<double>())));
        EXPECT_NE(mask.at<std::uint8_t>(middle), 0) << label;
      }
    }
  }
}

TEST(Phantom, AnExternalFixatorsPinsHoldEachFragmentAndStayClearOfTheFracture) {
  EXPECT_EQ(implantFromName("external_fixator"), Implant::ExternalFixator);
  PatientSpec spec = makePatientSpec(9, Scenario::NormalHealing, Implant::ExternalFixator,
                                     SizePreset::Default, {6});
  spec.monochrome1 = false;
  test::TempDir dir;
  writePatient(spec, dir.path());
  const json truth = readJson(dir.path() / "truth.json");
  int films = 0;
  for (const json& series : truth["timepoints"][0]["series"]) {
    if (series["modality"] != "DX") {
      continue;
    }
    ++films;
    const std::string view = series["view"];
    const cv::Mat mask = cv::imread((dir.path() / series["metal_mask"].get<std::string>()).string(),
                                    cv::IMREAD_GRAYSCALE);
    ASSERT_FALSE(mask.empty()) << view;
    // The fracture line's row, across the bone (the line's two ends are
    // where it meets the two cortices this view shows).
    const json& line = series["fracture_line"];
    const int row = static_cast<int>(0.5 * (line[0][1].get<double>() + line[1][1].get<double>()));
    const auto [left, right] = std::minmax(
        {static_cast<int>(line[0][0].get<double>()), static_cast<int>(line[1][0].get<double>())});
    ASSERT_GE(row, 0);
    ASSERT_LT(row, mask.rows);
    // Clear of the fracture: no metal across the bone there, only the rod
    // beside it.
    EXPECT_EQ(cv::countNonZero(mask.row(row).colRange(left, right + 1)), 0) << view;
    const int rodOnly = cv::countNonZero(mask.row(row));
    EXPECT_GT(rodOnly, 0) << view << ": the rod runs the film's length";
    // Above and below the fracture, rows with a pin carry it from the rod
    // across the bone.
    int pinnedAbove = 0, pinnedBelow = 0;
    for (int y = 0; y < mask.rows; ++y) {
      if (cv::countNonZero(mask.row(y).colRange(left, right + 1)) > 0.5 * (right - left)) {
        (y < row ? pinnedAbove : pinnedBelow) += 1;
      }
    }
    EXPECT_GT(pinnedAbove, 0) << view;
    EXPECT_GT(pinnedBelow, 0) << view;
  }
  EXPECT_EQ(films, 2);
}

TEST(Phantom, TruthMatchesTheVoxels) {
  for (const Implant implant : {Implant::None, Implant::Nail, Implant::Plate}) {
    const PatientSpec spec = makePatientSpec(31 + static_cast<int>(implant),
                                             Scenario::PartialBridging, implant, SizePreset::Small);
    test::TempDir dir;
    writePatient(spec, dir.path());
    const json truth = readJson(dir.path() / "truth.json");
    for (std::size_t v = 0; v < spec.visits.size(); ++v) {
      SCOPED_TRACE("visit " + std::to_string(v) + " implant " + std::string(implantName(implant)));
      const VisitVolume visit = renderVisitCt(spec, v);
      const json& tp = truth["timepoints"][v];
      EXPECT_NEAR(tp["callus_volume_mm3"].get<double>(), visit.callusVolumeMm3, 1e-3);

      // The callus label holds callus densities in the written HU.
      double sum = 0;
      std::size_t n = 0;
      const std::size_t count = visit.hu->GetLargestPossibleRegion().GetNumberOfPixels();
      for (std::size_t i = 0; i < count; ++i) {
        if (visit.labels->GetBufferPointer()[i] == kCallus) {
          sum += visit.hu->GetBufferPointer()[i];
          ++n;
        }
      }
      if (n > 50) {
        const double mean = sum / static_cast<double>(n);
        EXPECT_GT(mean, 250.0);
        EXPECT_LT(mean, 1200.0);
      }

      // Bridged arcs are continuous through the gap, unbridged arcs are not.
      const auto measured = measuredBridgedFractions(visit, tp, spec.gapMm, spec.tibiaRadiusMm);
      for (Cortex cortex : kAllCortices) {
        const json& expected = tp["cortices"][std::string(cortexKey(cortex))];
        const double fraction = measured[static_cast<std::size_t>(cortex)];
        if (expected["bridged"].get<bool>()) {
          EXPECT_NEAR(fraction, expected["bridged_fraction"].get<double>(), 0.15)
              << cortexKey(cortex);
        } else {
          EXPECT_LE(fraction, 0.06) << cortexKey(cortex);
        }
      }
    }
  }
}

TEST(Phantom, CohortWritesEveryPatientAndAnIndex) {
  test::TempDir dir;
  const fs::path index = writeCohort(3, 4, SizePreset::Small, dir.path());
  const json cohort = readJson(index);
  ASSERT_EQ(cohort["patients"].size(), 3U);
  for (const json& member : cohort["patients"]) {
    const json truth = readJson(dir.path() / member["folder"].get<std::string>() / "truth.json");
    EXPECT_EQ(truth["patient_id"], member["patient_id"]);
    EXPECT_EQ(truth["scenario"], member["scenario"]);
  }
}

TEST(Phantom, WrittenObjectsPassDciodvfy) {
  if (std::system("command -v dciodvfy > /dev/null 2>&1") != 0) {
    GTEST_SKIP() << "dciodvfy (Debian package dicom3tools) is not installed";
  }
  test::TempDir dir;
  PatientSpec spec =
      makePatientSpec(12, Scenario::DelayedUnion, Implant::Plate, SizePreset::Small, {6});
  spec.monochrome1 = true;
  spec.ctEncoding = 1;
  writePatient(spec, dir.path());
  for (const char* file : {"dicom/W06/CT/CT0001.dcm", "dicom/W06/CT/CT0064.dcm",
                           "dicom/W06/DX_AP.dcm", "dicom/W06/DX_LAT.dcm"}) {
    const fs::path log = dir.path() / "dciodvfy.log";
    const std::string command =
        "dciodvfy '" + (dir.path() / file).string() + "' > '" + log.string() + "' 2>&1";
    std::system(command.c_str());
    const std::string output = test::readBytes(log);
    EXPECT_EQ(output.find("Error"), std::string::npos) << file << ":\n" << output;
    EXPECT_EQ(output.find("Warning"), std::string::npos) << file << ":\n" << output;
  }
}
