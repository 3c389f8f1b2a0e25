// Rigid registration of follow-up CTs against the phantom's known limb poses.

#include "TestSupport.h"
#include "unionscope/filters/Parallelism.h"
#include "unionscope/filters/RigidRegistration.h"
#include "unionscope/pipeline/Analyze.h"
#include "unionscope/sample_data/Phantom.h"

#include <itkEuler3DTransform.h>
#include <itkTransformFileReader.h>
#include <itkTxtTransformIOFactory.h>
#include <nlohmann/json.hpp>

#include <array>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

using namespace unionscope;
using namespace unionscope::phantom;

namespace {

using Vec = std::array<double, 3>;
using Mat = std::array<double, 9>; // row-major

Mat multiply(const Mat& a, const Mat& b) {
  Mat m{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < 3; ++k) {
        m[r * 3 + c] += a[r * 3 + k] * b[k * 3 + c];
      }
    }
  }
  return m;
}

Mat transposed(const Mat& a) {
  Mat m{};
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 3; ++c) {
      m[r * 3 + c] = a[c * 3 + r];
    }
  }
  return m;
}

double angleDeg(const Mat& rotation) {
  const double trace = rotation[0] + rotation[4] + rotation[8];
  return std::acos(std::clamp((trace - 1.0) / 2.0, -1.0, 1.0)) * 180.0 / M_PI;
}

FracturePlane planeOf(const VisitVolume& visit) {
  return {visit.fractureCenter, visit.fractureNormal};
}

/// The largest error of the recovered transform over points of the shaft
/// (along the axis +-40 mm, at the outer cortex of all four sides and on the
/// axis), split into its part across the shaft and its part along it.
struct BoneError {
  double acrossMm = 0;
  double alongMm = 0;
};

BoneError worstErrorAtBone(const RigidRegistrationResult& result, const VisitMotion& truth,
                           const VisitVolume& reference, const VisitVolume& followUp) {
  BoneError worst;
  for (double s : {-40.0, -20.0, 0.0, 20.0, 40.0}) {
    for (int side = 0; side < 5; ++side) {
      Vec p{};
      const double sign = side % 2 == 0 ? 1.0 : -1.0;
      for (int a = 0; a < 3; ++a) {
        p[a] = reference.fractureCenter[a] + s * reference.shaftAxis[a] +
               (side == 4 ? 0.0
                          : sign * 11.0 * (side < 2 ? reference.medial[a] : reference.anterior[a]));
      }
      const Vec got = result.apply(p);
      const Vec want = truth.apply(p);
      const Vec e{got[0] - want[0], got[1] - want[1], got[2] - want[2]};
      const double along = e[0] * followUp.shaftAxis[0] + e[1] * followUp.shaftAxis[1] +
                           e[2] * followUp.shaftAxis[2];
      const double total = std::hypot(e[0], e[1], e[2]);
      worst.alongMm = std::max(worst.alongMm, std::abs(along));
      worst.acrossMm =
          std::max(worst.acrossMm, std::sqrt(std::max(0.0, total * total - along * along)));
    }
  }
  return worst;
}

} // namespace

// The truth is the phantom's own per-visit limb pose (PatientSpec::visitPoses,
// applied in limbFrame and recorded in each VisitVolume's axes and fracture
// centre). Tolerances: 0.5 degree of rotation and 0.5 mm at the bone (+-40 mm
// along the shaft, on the outer cortex). The phantom's voxels are 0.55-0.7 mm
// in plane and 0.8-1.25 mm apart and the registration works on a ~1 mm grid;
// 0.5 degree moves the bone 40 mm from the centre by 0.35 mm. Each visit is
// rendered afresh on the scanner's fixed grid with its own noise and blur, so
// no registration can be exact.
TEST(RigidRegistration, RecoversThePhantomsLimbPoseBetweenVisits) {
  struct Case {
    std::uint64_t seed;
    Scenario scenario;
    Implant implant;
  };
  for (const Case& c : {Case{11, Scenario::NormalHealing, Implant::None},
                        Case{12, Scenario::HypertrophicNonunion, Implant::Nail},
                        Case{13, Scenario::PartialBridging, Implant::Plate}}) {
    const PatientSpec spec = makePatientSpec(c.seed, c.scenario, c.implant, SizePreset::Default);
    const VisitVolume reference = renderVisitCt(spec, 0);
    for (std::size_t v = 1; v < spec.visits.size(); ++v) {
      const VisitVolume followUp = renderVisitCt(spec, v);
      const RigidRegistrationResult result =
          registerFollowUpRigidly(*reference.hu, *followUp.hu, planeOf(reference));
      ASSERT_TRUE(result.ok) << result.failureReason;
      const VisitMotion truth = visitMotion(reference, followUp);
      const double rotationError = angleDeg(multiply(result.rotation, transposed(truth.rotation)));
      const BoneError boneError = worstErrorAtBone(result, truth, reference, followUp);
      std::printf("seed %llu visit %zu: true rotation %.2f deg, recovered %.2f deg; rotation "
                  "error %.3f deg, worst error at the bone %.3f mm across, %.3f mm along the "
                  "shaft; %d working voxels, %d iterations, %.0f ms\n",
                  static_cast<unsigned long long>(c.seed), v, angleDeg(truth.rotation),
                  result.rotationDeg, rotationError, boneError.acrossMm, boneError.alongMm,
                  result.maskVoxels, result.iterations, result.milliseconds);
      EXPECT_GT(angleDeg(truth.rotation), 1.0) << "the phantom moved the limb too little to test";
      EXPECT_LT(rotationError, 0.5) << "seed " << c.seed << " visit " << v;
      EXPECT_LT(boneError.acrossMm, 0.5) << "seed " << c.seed << " visit " << v;
      // The phantom's shaft is a prism (its cortex outline depends on the
      // angle only), so away from the fracture only an implant's screws and
      // plate fix the position along the shaft; without one that component
      // is whatever the initialisation left (reported above, not asserted).
      // Real shafts change their cross-section along their length.
      if (c.implant != Implant::None) {
        EXPECT_LT(boneError.alongMm, 0.5) << "seed " << c.seed << " visit " << v;
      }
    }
  }
}

TEST(RigidRegistration, SameResultWithOneOrTwoThreads) {
  const PatientSpec spec =
      makePatientSpec(21, Scenario::DelayedUnion, Implant::Nail, SizePreset::Default);
  const VisitVolume reference = renderVisitCt(spec, 0);
  const VisitVolume followUp = renderVisitCt(spec, 2);
  RigidRegistrationResult results[2];
  for (int threads : {1, 2}) {
    const ThreadingScope scope(threads);
    results[threads - 1] = registerFollowUpRigidly(*reference.hu, *followUp.hu, planeOf(reference));
    ASSERT_TRUE(results[threads - 1].ok) << results[threads - 1].failureReason;
  }
  EXPECT_EQ(results[0].rotation, results[1].rotation);
  EXPECT_EQ(results[0].translation, results[1].translation);
  EXPECT_EQ(results[0].metric, results[1].metric);
  EXPECT_EQ(results[0].iterations, results[1].iterations);
}

TEST(RigidRegistration, AFollowUpWithoutBoneIsAFailureWithAReason) {
  const PatientSpec spec =
      makePatientSpec(5, Scenario::NormalHealing, Implant::None, SizePreset::Small);
  const VisitVolume reference = renderVisitCt(spec, 0);
  auto empty = CtImage::New();
  empty->CopyInformation(reference.hu);
  empty->SetRegions(reference.hu->GetLargestPossibleRegion());
  empty->Allocate();
  empty->FillBuffer(-1000); // air: a series of something else, or a failed reconstruction
  const RigidRegistrationResult result =
      registerFollowUpRigidly(*reference.hu, *empty, planeOf(reference));
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.failureReason.find("no bone"), std::string::npos) << result.failureReason;
}

TEST(RigidRegistration, TooLittleBoneAwayFromTheFractureIsAFailureWithAReason) {
  const PatientSpec spec =
      makePatientSpec(5, Scenario::NormalHealing, Implant::None, SizePreset::Small);
  const VisitVolume reference = renderVisitCt(spec, 0);
  const VisitVolume followUp = renderVisitCt(spec, 1);
  RigidRegistrationParameters parameters;
  parameters.fractureExclusionHalfWidthMm = 500; // the whole volume
  const RigidRegistrationResult result =
      registerFollowUpRigidly(*reference.hu, *followUp.hu, planeOf(reference), parameters);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.failureReason.find("too little bone"), std::string::npos)
      << result.failureReason;
}

// ---------------------------------------------------------------------------
// analyze: transforms saved, trajectories in report.json.

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

/// One small phantom patient (three CT visits, a nail), analysed once with the
/// default registration and once with one that cannot succeed.
class LongitudinalAnalysis : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    directory_ = std::make_unique<unionscope::test::TempDir>();
    const PatientSpec spec =
        makePatientSpec(8, Scenario::NormalHealing, Implant::Nail, SizePreset::Small);
    writePatient(spec, directory_->path() / "patient");
    AnalyzeOptions options;
    options.inputs = {directory_->path() / "patient" / "dicom"};
    options.referenceDate = "2025-03-03";
    options.writeDicom = false;
    options.outputDirectory = directory_->path() / "out";
    outcome_ = analyzePatient(options);
    report_ = json::parse(unionscope::test::readBytes(out() / "report.json"));
    options.outputDirectory = directory_->path() / "failing";
    options.registration.fractureExclusionHalfWidthMm = 500; // no bone left to register on
    failingOutcome_ = analyzePatient(options);
    failingReport_ =
        json::parse(unionscope::test::readBytes(directory_->path() / "failing" / "report.json"));
  }
  static void TearDownTestSuite() { directory_.reset(); }
  static fs::path out() { return directory_->path() / "out"; }

  static inline std::unique_ptr<unionscope::test::TempDir> directory_;
  static inline AnalyzeOutcome outcome_;
  static inline AnalyzeOutcome failingOutcome_;
  static inline json report_;
  static inline json failingReport_;
};

} // namespace

TEST_F(LongitudinalAnalysis, LaterVisitsAreRegisteredToTheFirstAndTheTransformsSaved) {
  const json& timepoints = report_["timepoints"];
  ASSERT_EQ(timepoints.size(), 3U);
  EXPECT_TRUE(timepoints[0]["registration"].is_null());
  EXPECT_EQ(outcome_.registrationsFailed, 0);
  ASSERT_EQ(outcome_.registrationFiles.size(), 4U); // .tfm and .json per follow-up
  const auto audit = json::parse(unionscope::test::readBytes(out() / "audit.json"));
  ASSERT_EQ(audit["registration_outputs"].size(), 4U);
  EXPECT_EQ(audit["parameters"]["registration"]["fracture_exclusion_half_width_mm"], 25.0);
  itk::TxtTransformIOFactory::RegisterOneFactory();
  for (std::size_t v = 1; v < 3; ++v) {
    const json& registration = timepoints[v]["registration"];
    ASSERT_TRUE(registration.is_object()) << timepoints[v].dump();
    EXPECT_EQ(registration["status"], "ok");
    EXPECT_TRUE(registration["error"].is_null());
    EXPECT_EQ(registration["reference"], timepoints[0]["label"]);
    EXPECT_EQ(registration["reference_series_instance_uid"],
              timepoints[0]["series"][0]["series_instance_uid"]);
    EXPECT_TRUE(registration["converged"].get<bool>());
    EXPECT_LT(registration["rotation_deg"].get<double>(), 10.0);
    EXPECT_EQ(registration["translation_mm"].size(), 3U);
    EXPECT_GE(registration["metric"].get<double>(), 0.0);
    const std::string tfm = registration["transform_file"].get<std::string>();
    EXPECT_EQ(tfm, "registration/" + timepoints[v]["label"].get<std::string>() + ".tfm");
    ASSERT_TRUE(fs::exists(out() / tfm)) << tfm;
    // The hash in the report is the file's, and the audit lists it.
    const std::string sha = registration["transform_sha256"].get<std::string>();
    EXPECT_EQ(sha.size(), 64U);
    bool audited = false;
    for (const json& output : audit["registration_outputs"]) {
      audited = audited || (output["path"] == (out() / tfm).string() && output["sha256"] == sha);
    }
    EXPECT_TRUE(audited) << audit["registration_outputs"].dump();

    // ITK reads the transform back, and it is the one in the JSON sidecar.
    auto reader = itk::TransformFileReaderTemplate<double>::New();
    reader->SetFileName((out() / tfm).string());
    reader->Update();
    ASSERT_EQ(reader->GetTransformList()->size(), 1U);
    const auto* euler = dynamic_cast<const itk::Euler3DTransform<double>*>(
        reader->GetTransformList()->front().GetPointer());
    ASSERT_NE(euler, nullptr) << reader->GetTransformList()->front()->GetNameOfClass();
    fs::path sidecar = out() / tfm;
    sidecar.replace_extension(".json");
    const auto details = json::parse(unionscope::test::readBytes(sidecar));
    EXPECT_EQ(details["schema"], "unionscope.registration/1");
    EXPECT_EQ(details["follow_up"], timepoints[v]["label"]);
    ASSERT_EQ(details["matrix_lps"].size(), 4U);
    EXPECT_EQ(details["matrix_lps"][3], json::array({0, 0, 0, 1}));
    for (unsigned r = 0; r < 3; ++r) {
      for (unsigned c = 0; c < 3; ++c) {
        EXPECT_NEAR(euler->GetMatrix()[r][c], details["matrix_lps"][r][c].get<double>(), 1e-8);
      }
      EXPECT_NEAR(euler->GetOffset()[r], details["matrix_lps"][r][3].get<double>(), 1e-5);
    }
  }
}

TEST_F(LongitudinalAnalysis, TrajectoriesChangesAreTheDifferencesOfThePerVisitValues) {
  const json& timepoints = report_["timepoints"];
  const json& visits = report_["trajectories"]["visits"];
  ASSERT_EQ(visits.size(), timepoints.size());
  EXPECT_TRUE(visits[0]["change_since_previous"].is_null());
  for (std::size_t v = 0; v < visits.size(); ++v) {
    const json& tp = timepoints[v];
    EXPECT_EQ(visits[v]["label"], tp["label"]);
    EXPECT_EQ(visits[v]["mrust"], tp["mrust"]);
    for (const auto& [key, cortex] : tp["cortices"].items()) {
      EXPECT_EQ(visits[v]["bridged_fraction"][key], cortex["bridged_fraction"]) << key;
    }
    for (const json& series : tp["series"]) {
      if (series["modality"] == "CT") {
        EXPECT_EQ(visits[v]["callus_volume_mm3"], series["callus_volume_mm3"]);
      }
    }
    if (v == 0) {
      continue;
    }
    const json& change = visits[v]["change_since_previous"];
    const json& before = timepoints[v - 1];
    EXPECT_EQ(change["since"], before["label"]);
    EXPECT_EQ(change["mrust"].get<int>(), tp["mrust"].get<int>() - before["mrust"].get<int>());
    for (const auto& [key, cortex] : tp["cortices"].items()) {
      EXPECT_NEAR(change["bridged_fraction"][key].get<double>(),
                  cortex["bridged_fraction"].get<double>() -
                      before["cortices"][key]["bridged_fraction"].get<double>(),
                  1e-9)
          << key;
    }
    EXPECT_NEAR(change["callus_volume_mm3"].get<double>(),
                visits[v]["callus_volume_mm3"].get<double>() -
                    visits[v - 1]["callus_volume_mm3"].get<double>(),
                1e-6);
  }
}

TEST_F(LongitudinalAnalysis, AVisitWhoseRegistrationFailsSaysWhyAndKeepsItsScores) {
  const json& timepoints = failingReport_["timepoints"];
  ASSERT_EQ(timepoints.size(), 3U);
  EXPECT_EQ(failingOutcome_.registrationsFailed, 2);
  EXPECT_TRUE(failingOutcome_.registrationFiles.empty());
  EXPECT_FALSE(fs::exists(directory_->path() / "failing" / "registration"));
  EXPECT_TRUE(timepoints[0]["registration"].is_null());
  for (std::size_t v = 1; v < 3; ++v) {
    const json& tp = timepoints[v];
    const json& registration = tp["registration"];
    ASSERT_TRUE(registration.is_object()) << tp.dump();
    EXPECT_EQ(registration["status"], "failed");
    EXPECT_FALSE(registration["converged"].get<bool>());
    EXPECT_TRUE(registration["transform_file"].is_null());
    EXPECT_NE(registration["error"].get<std::string>().find("too little bone"), std::string::npos)
        << registration["error"];
    // The scores are those of the run whose registration succeeded.
    EXPECT_EQ(tp["cortices"], report_["timepoints"][v]["cortices"]);
    EXPECT_EQ(tp["mrust"], report_["timepoints"][v]["mrust"]);
    EXPECT_EQ(tp["union"], report_["timepoints"][v]["union"]);
  }
  EXPECT_EQ(failingReport_["trajectories"], report_["trajectories"]);
}

// A batch analyses patients in parallel, so two follow-ups can write their
// transforms at the same moment. ITK registers its transform types on the
// first writer it constructs, without a lock: this once crashed a batch.
TEST(RigidRegistrationFile, ManyThreadsWriteTransformsAtOnceAndEachReadsBack) {
  unionscope::test::TempDir dir;
  constexpr int kThreads = 12;
  std::atomic<int> waiting{kThreads};
  std::vector<std::string> errors(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      RigidRegistrationResult result;
      result.centre = {double(t), 2.0, 3.0};
      result.eulerParameters = {0.01 * t, 0.0, 0.0, 1.0, 2.0, double(t)};
      // All start together, so the first writers really do overlap.
      waiting.fetch_sub(1);
      while (waiting.load() > 0) {
        std::this_thread::yield();
      }
      try {
        writeItkTransformFile(result, dir.path() / ("t" + std::to_string(t) + ".tfm"));
      } catch (const std::exception& error) {
        errors[static_cast<std::size_t>(t)] = error.what();
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_EQ(errors[static_cast<std::size_t>(t)], "") << t;
    auto reader = itk::TransformFileReaderTemplate<double>::New();
    reader->SetFileName((dir.path() / ("t" + std::to_string(t) + ".tfm")).string());
    reader->Update();
    ASSERT_EQ(reader->GetTransformList()->size(), 1U);
    const auto* euler = dynamic_cast<const itk::Euler3DTransform<double>*>(
        reader->GetTransformList()->front().GetPointer());
    ASSERT_NE(euler, nullptr);
    EXPECT_NEAR(euler->GetParameters()[5], double(t), 1e-12) << t;
    EXPECT_NEAR(euler->GetCenter()[0], double(t), 1e-12) << t;
  }
}
