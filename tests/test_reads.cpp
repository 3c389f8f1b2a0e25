// A reader's signed read (DIR/reads/): saved beside, never over, the
// algorithm's results; read back from the JSON and from the DICOM SR (DCMTK)
// with the same values; a second read never overwrites the first. Also the
// result model the viewer reads (AnalysedPatient), registration included.

#include "TestSupport.h"
#include "unionscope/pipeline/AnalysedPatient.h"
#include "unionscope/pipeline/Analyze.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/Reads.h"
#include "unionscope/pipeline/dicom/ExportCodes.h"
#include "unionscope/sample_data/Phantom.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>

namespace {

namespace fs = std::filesystem;
using namespace unionscope;
using nlohmann::json;

class Reads : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    directory_ = std::make_unique<test::TempDir>();
    const auto spec = phantom::makePatientSpec(4, phantom::Scenario::NormalHealing,
                                               phantom::Implant::None, phantom::SizePreset::Small);
    phantom::writePatient(spec, directory_->path() / "patient");
    AnalyzeOptions options;
    options.inputs = {directory_->path() / "patient" / "dicom"};
    options.outputDirectory = directory_->path() / "analysed";
    options.referenceDate = "2025-03-03";
    analyzePatient(options);
  }
  static void TearDownTestSuite() { directory_.reset(); }

  /// A fresh copy of the analysed patient for each test: reads accumulate.
  void SetUp() override {
    out_ = directory_->path() / ::testing::UnitTest::GetInstance()->current_test_info()->name();
    fs::remove_all(out_);
    fs::copy(directory_->path() / "analysed", out_, fs::copy_options::recursive);
  }

  static inline std::unique_ptr<test::TempDir> directory_;
  fs::path out_;
};

/// What a reader's SR states: per cortex group the category code, and the
/// observer context.
struct ReaderSr {
  std::map<std::string, std::string> categories; ///< "W12 anterior cortex" -> "MRUST-3"
  std::map<std::string, std::string> notAssessable;
  std::string observerType;
  std::string observerName;
  std::string verification;
  std::string completion;
  std::string contentDate;
  std::string studyInstanceUid;
  std::vector<std::string> evidence; ///< SOP Instance UIDs
};

ReaderSr readReaderSr(const fs::path& file) {
  ReaderSr sr;
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(OFFilename(file.c_str())).good()) << file;
  DSRDocument document;
  EXPECT_TRUE(document.read(*dcm.getDataset()).good()) << file;
  OFString value;
  sr.verification = document.getVerificationFlag() == DSRTypes::VF_Verified ? "VERIFIED" : "";
  sr.completion = document.getCompletionFlag() == DSRTypes::CF_Complete ? "COMPLETE" : "";
  dcm.getDataset()->findAndGetOFString(DCM_ContentDate, value);
  sr.contentDate = value.c_str();
  dcm.getDataset()->findAndGetOFString(DCM_StudyInstanceUID, value);
  sr.studyInstanceUid = value.c_str();
  DSRSOPInstanceReferenceList& evidence = document.getCurrentRequestedProcedureEvidence();
  if (evidence.gotoFirstItem().good()) {
    do {
      evidence.getSOPInstanceUID(value);
      sr.evidence.emplace_back(value.c_str());
    } while (evidence.gotoNextItem().good());
  }
  DSRDocumentTree& tree = document.getTree();
  std::string group;
  if (tree.gotoRoot() == 0) {
    ADD_FAILURE() << "empty SR tree";
    return sr;
  }
  do {
    const DSRContentItem& item = tree.getCurrentContentItem();
    const std::string concept = item.getConceptName().getCodeMeaning().c_str();
    if (item.getValueType() == DSRTypes::VT_Text && concept == "Tracking Identifier") {
      group = item.getStringValue().c_str();
    } else if (item.getValueType() == DSRTypes::VT_Text && concept == "Reason not assessable") {
      sr.notAssessable[group] = item.getStringValue().c_str();
    } else if (item.getValueType() == DSRTypes::VT_Code && concept == "Observer Type") {
      sr.observerType = item.getCodeValue().getCodeValue().c_str();
    } else if (item.getValueType() == DSRTypes::VT_PName && concept == "Person Observer Name") {
      sr.observerName = item.getStringValue().c_str();
    } else if (item.getValueType() == DSRTypes::VT_Code &&
               concept == "Modified RUST cortex category") {
      sr.categories[group] = item.getCodeValue().getCodeValue().c_str();
    }
  } while (tree.iterate() != 0);
  return sr;
}

std::string sopInstanceUidOf(const fs::path& file) {
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(OFFilename(file.c_str())).good()) << file;
  OFString uid;
  dcm.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  return uid.c_str();
}

std::map<fs::path, std::string> hashesOfAlgorithmOutputs(const fs::path& directory) {
  std::map<fs::path, std::string> hashes;
  hashes[directory / "report.json"] = sha256OfFile(directory / "report.json");
  for (const auto& entry : fs::directory_iterator(directory / "dicom")) {
    hashes[entry.path()] = sha256OfFile(entry.path());
  }
  return hashes;
}

TEST_F(Reads, AScriptedReadRoundTripsThroughReadsAndTheSr) {
  const auto before = hashesOfAlgorithmOutputs(out_);
  const AnalysedPatient patient = loadAnalysedPatient(out_);
  ASSERT_EQ(patient.visits.size(), 3U);
  ReaderRead read = startRead(patient, "Dr. Ann O'Neil");
  const std::string w12 = patient.visits[1].label;
  const int anteriorW12 = *patient.visits[1].cortices[0].category;
  const int changedTo = anteriorW12 == 1 ? 2 : anteriorW12 - 1;
  applyAssignment(read, fmt::format("{}:anterior={}", w12, changedTo));
  applyAssignment(read, patient.visits[0].label + ":medial=na");
  read.organization = "Core Lab";
  SaveReadOptions options;
  options.signedUtc = "2026-01-02T03:04:05Z";
  const SavedRead saved = saveRead(patient, read, options);
  EXPECT_TRUE(saved.notes.empty()) << saved.notes.front();
  EXPECT_EQ(saved.json, out_ / "reads" / "dr_ann_o_neil.json");
  ASSERT_EQ(saved.srFiles.size(), 3U);

  // The JSON: reader, time, per visit per cortex algorithm/reader/decision.
  const json file = json::parse(test::readBytes(saved.json));
  EXPECT_EQ(file["schema"], "unionscope.read/1");
  EXPECT_EQ(file["reader"], "Dr. Ann O'Neil");
  EXPECT_EQ(file["signed_utc"], "2026-01-02T03:04:05Z");
  EXPECT_EQ(file["report_sha256"], patient.reportSha256);
  const json& anterior = file["visits"][1]["cortices"]["anterior"];
  EXPECT_EQ(anterior["algorithm"], anteriorW12);
  EXPECT_EQ(anterior["reader"], changedTo);
  EXPECT_EQ(anterior["decision"], "changed");
  EXPECT_TRUE(file["visits"][0]["cortices"]["medial"]["reader"].is_null());
  EXPECT_EQ(file["visits"][0]["cortices"]["medial"]["decision"], "changed");
  EXPECT_EQ(file["visits"][2]["cortices"]["lateral"]["decision"], "accepted");
  EXPECT_TRUE(file["visits"][0]["rust"].is_null()) << "a cortex not assessed: no RUST";

  // Loaded back: the same categories.
  const std::vector<ReaderRead> reads = loadLatestReads(out_);
  ASSERT_EQ(reads.size(), 1U);
  ASSERT_EQ(reads[0].visits.size(), 3U);
  for (std::size_t v = 0; v < 3; ++v) {
    for (std::size_t c = 0; c < 4; ++c) {
      EXPECT_EQ(reads[0].visits[v].cortices[c].reader, read.visits[v].cortices[c].reader);
      EXPECT_EQ(reads[0].visits[v].cortices[c].algorithm, patient.visits[v].cortices[c].category);
    }
  }

  // The SRs: person observer, signed, in the algorithm SR's study, the
  // algorithm's SR as evidence, the reader's categories.
  for (std::size_t v = 0; v < 3; ++v) {
    const fs::path srFile = out_ / reads[0].visits[v].srFile;
    ASSERT_TRUE(fs::exists(srFile)) << srFile;
    const ReaderSr sr = readReaderSr(srFile);
    EXPECT_EQ(sr.observerType, "121006") << "Observer Type: Person";
    EXPECT_EQ(sr.observerName, "Dr. Ann O'Neil");
    EXPECT_EQ(sr.completion, "COMPLETE");
    EXPECT_EQ(sr.verification, "VERIFIED");
    EXPECT_EQ(sr.contentDate, "20260102");
    EXPECT_EQ(sr.studyInstanceUid, patient.visits[v].studyInstanceUid);
    const std::string algorithmSr = sopInstanceUidOf(patient.visits[v].srFile);
    EXPECT_NE(std::find(sr.evidence.begin(), sr.evidence.end(), algorithmSr), sr.evidence.end());
    for (Cortex cortex : kAllCortices) {
      const std::string group =
          fmt::format("{} {} cortex", read.visits[v].label, cortexKey(cortex));
      const auto& category = read.visits[v].cortices[static_cast<std::size_t>(cortex)].reader;
      if (category) {
        EXPECT_EQ(sr.categories.at(group), fmt::format("MRUST-{}", *category)) << group;
      } else {
        EXPECT_EQ(sr.categories.count(group), 0U) << group;
        EXPECT_EQ(sr.notAssessable.count(group), 1U) << group;
      }
    }
  }
  EXPECT_EQ(hashesOfAlgorithmOutputs(out_), before) << "the algorithm's outputs were touched";
}

TEST_F(Reads, ReaderSrPassesDciodvfy) {
  if (!test::haveDciodvfy()) {
    GTEST_SKIP() << "dciodvfy (dicom3tools) is not installed";
  }
  const AnalysedPatient patient = loadAnalysedPatient(out_);
  ReaderRead read = startRead(patient, "Reader One");
  read.organization = "Core Lab";
  const SavedRead saved = saveRead(patient, read);
  ASSERT_FALSE(saved.srFiles.empty());
  for (const fs::path& file : saved.srFiles) {
    const std::string output = test::dciodvfyOutput(file);
    EXPECT_EQ(output.find("Error"), std::string::npos) << file << ":\n" << output;
  }
}

TEST_F(Reads, ASecondReadIsKeptBesideNeverOverTheFirst) {
  const AnalysedPatient patient = loadAnalysedPatient(out_);
  ReaderRead first = startRead(patient, "Reader One");
  saveRead(patient, first);
  const std::string firstBytes = test::readBytes(out_ / "reads" / "reader_one.json");

  ReaderRead again = startRead(patient, "reader  ONE");
  applyAssignment(again, patient.visits[2].label + ":posterior=1");
  try {
    saveRead(patient, again);
    ADD_FAILURE() << "a second read overwrote the first";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("reader_one.json"), std::string::npos);
    EXPECT_NE(std::string(error.what()).find("--amend"), std::string::npos);
  }
  EXPECT_EQ(test::readBytes(out_ / "reads" / "reader_one.json"), firstBytes);

  SaveReadOptions amend;
  amend.amend = true;
  const SavedRead second = saveRead(patient, again, amend);
  EXPECT_EQ(second.json, out_ / "reads" / "reader_one.v2.json");
  EXPECT_EQ(again.version, 2);
  EXPECT_EQ(test::readBytes(out_ / "reads" / "reader_one.json"), firstBytes);

  ReaderRead other = startRead(patient, "Reader Two");
  saveRead(patient, other);
  const std::vector<ReaderRead> latest = loadLatestReads(out_);
  ASSERT_EQ(latest.size(), 2U) << "the latest read of each reader";
  EXPECT_EQ(latest[0].reader, "reader  ONE"); // reader_one, version 2
  EXPECT_EQ(latest[0].version, 2);
  EXPECT_EQ(latest[0].visits[2].cortices[1].reader, 1);
  EXPECT_EQ(latest[1].reader, "Reader Two");
}

TEST_F(Reads, ReaderNamesBecomeSafeFileNames) {
  EXPECT_EQ(readerFileStem("Dr. Ann O'Neil"), "dr_ann_o_neil");
  EXPECT_EQ(readerFileStem("../../etc/passwd"), "etc_passwd");
  EXPECT_EQ(readerFileStem("  Zoë Ünal  "), "zo_nal");
  EXPECT_THROW(readerFileStem("../ /"), UsageError);
  EXPECT_EQ(readerFileStem(std::string(100, 'a')).size(), 48U);
}

TEST_F(Reads, BadAssignmentsAndCorruptFilesNameTheProblem) {
  const AnalysedPatient patient = loadAnalysedPatient(out_);
  ReaderRead read = startRead(patient, "R");
  EXPECT_THROW(applyAssignment(read, "W12:anterior=5"), UsageError);
  EXPECT_THROW(applyAssignment(read, "W12:ventral=3"), UsageError);
  EXPECT_THROW(applyAssignment(read, "W99:anterior=3"), UsageError);
  EXPECT_THROW(applyAssignment(read, "anterior=3"), UsageError);

  fs::create_directories(out_ / "reads");
  std::ofstream(out_ / "reads" / "broken.json") << R"({"schema": "unionscope.read/1", "reader":)";
  try {
    loadLatestReads(out_);
    ADD_FAILURE() << "a corrupt read was accepted";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("broken.json"), std::string::npos) << error.what();
  }
  std::ofstream(out_ / "reads" / "broken.json", std::ios::trunc)
      << R"({"schema": "unionscope.read/1", "reader": "X", "visits": [{"label": "W6",
      "cortices": {"anterior": {"algorithm": 2, "reader": 7}}}]})";
  EXPECT_THROW(loadLatestReads(out_), UsageError);

  EXPECT_THROW(loadAnalysedPatient(out_ / "missing"), UsageError);
  fs::remove(out_ / "report.json");
  try {
    loadAnalysedPatient(out_);
    ADD_FAILURE() << "a folder without report.json was accepted";
  } catch (const UsageError& error) {
    EXPECT_NE(std::string(error.what()).find("report.json"), std::string::npos);
  }
}

TEST_F(Reads, ARegistrationTakesTheVisitIntoTheReferenceFrame) {
  // report.json from the registration step: a visit with a transform file
  // (reference -> follow-up, LPS mm) is shown through its inverse.
  json report = json::parse(test::readBytes(out_ / "report.json"));
  const double angle = 10.0 * M_PI / 180.0;
  const json matrix = json::array({json::array({std::cos(angle), -std::sin(angle), 0.0, 5.0}),
                                   json::array({std::sin(angle), std::cos(angle), 0.0, -3.0}),
                                   json::array({0.0, 0.0, 1.0, 2.0}), json::array({0, 0, 0, 1})});
  fs::create_directories(out_ / "registration");
  std::ofstream(out_ / "registration" / "W12.json")
      << json{{"schema", "unionscope.registration/1"}, {"matrix_lps", matrix}}.dump();
  // As analyze writes it: the entry names ITK's .tfm, the matrix is in the
  // .json beside it. A failed registration leaves the visit in its own frame.
  report["timepoints"][1]["registration"] = {
      {"reference", "W6"}, {"status", "ok"}, {"transform_file", "registration/W12.tfm"}};
  report["timepoints"][2]["registration"] = {
      {"reference", "W6"}, {"status", "failed"}, {"transform_file", nullptr}};
  std::ofstream(out_ / "report.json", std::ios::trunc) << report.dump(2);

  const AnalysedPatient patient = loadAnalysedPatient(out_);
  EXPECT_EQ(patient.visits[0].toReference, kIdentity4);
  EXPECT_EQ(patient.visits[2].toReference, kIdentity4);
  EXPECT_TRUE(patient.visits[2].registeredTo.empty());
  EXPECT_EQ(patient.visits[1].registeredTo, "W6");
  const Matrix4& inverse = patient.visits[1].toReference;
  // inverse * matrix = identity
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      double sum = 0;
      for (int k = 0; k < 4; ++k) {
        sum += inverse[r * 4 + k] * matrix[k][c].get<double>();
      }
      EXPECT_NEAR(sum, r == c ? 1.0 : 0.0, 1e-12) << r << "," << c;
    }
  }
}

} // namespace
