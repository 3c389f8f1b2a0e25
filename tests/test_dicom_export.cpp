// The DICOM outputs of analyze (DIR/dicom/): SR TID 1500 per visit and SEG
// per CT series. Read back with DCMTK (dcmsr, dcmdata, dcmseg) and checked
// against report.json, against dciodvfy when it is installed, and for
// reproducibility.

#include "TestSupport.h"
#include "unionscope/pipeline/Analyze.h"
#include "unionscope/pipeline/Dates.h"
#include "unionscope/pipeline/dicom/DicomExport.h"
#include "unionscope/pipeline/dicom/ExportCodes.h"
#include "unionscope/pipeline/dicom/UidFactory.h"
#include "unionscope/sample_data/Phantom.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmseg/segdoc.h>
#include <dcmtk/dcmsr/dsrdoc.h>
#include <nlohmann/json.hpp>

#include <array>
#include <bitset>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using unionscope::test::readBytes;

/// One phantom patient (two visits, a plate: metal in the SEG), analysed
/// once for the whole suite.
class DicomExport : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    directory_ = std::make_unique<unionscope::test::TempDir>();
    const auto spec = unionscope::phantom::makePatientSpec(
        11, unionscope::phantom::Scenario::NormalHealing, unionscope::phantom::Implant::Plate,
        unionscope::phantom::SizePreset::Small, {12, 24});
    unionscope::phantom::writePatient(spec, directory_->path() / "patient");
    outcome_ = analyze("out");
    report_ = json::parse(readBytes(out() / "report.json"));
  }
  static void TearDownTestSuite() { directory_.reset(); }

  static unionscope::AnalyzeOutcome analyze(const std::string& folder) {
    unionscope::AnalyzeOptions options;
    options.inputs = {directory_->path() / "patient" / "dicom"};
    options.outputDirectory = directory_->path() / folder;
    options.referenceDate = "2025-03-03";
    return unionscope::analyzePatient(options);
  }
  static fs::path out() { return directory_->path() / "out"; }

  static inline std::unique_ptr<unionscope::test::TempDir> directory_;
  static inline unionscope::AnalyzeOutcome outcome_;
  static inline json report_;
};

std::string sopInstanceUidOf(const fs::path& file) {
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(OFFilename(file.c_str()), EXS_Unknown, EGL_noChange, 256).good())
      << file;
  OFString uid;
  dcm.getDataset()->findAndGetOFString(DCM_SOPInstanceUID, uid);
  return uid.c_str();
}

/// The content of an SR, as values per measurement group (keyed by its
/// Tracking Identifier) and concept meaning.
struct SrValues {
  std::map<std::string, std::map<std::string, std::string>> codes;      ///< code value
  std::map<std::string, std::map<std::string, double>> numbers;         ///< numeric value
  std::map<std::string, std::map<std::string, std::string>> units;      ///< unit code
  std::map<std::string, std::map<std::string, std::string>> schemes;    ///< coding scheme
  std::map<std::string, std::map<std::string, std::string>> texts;      ///< text value
  std::map<std::string, std::map<std::string, std::string>> qualifiers; ///< numeric qualifier
};

SrValues readSr(const fs::path& file) {
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(OFFilename(file.c_str())).good()) << file;
  DSRDocument document;
  EXPECT_TRUE(document.read(*dcm.getDataset()).good()) << file;
  EXPECT_EQ(document.getDocumentType(), DSRTypes::DT_EnhancedSR);
  SrValues values;
  DSRDocumentTree& tree = document.getTree();
  std::string group;
  if (tree.gotoRoot() == 0) {
    ADD_FAILURE() << "empty SR tree";
    return values;
  }
  do {
    const DSRContentItem& item = tree.getCurrentContentItem();
    const std::string concept = item.getConceptName().getCodeMeaning().c_str();
    switch (item.getValueType()) {
    case DSRTypes::VT_Text:
      if (concept == "Tracking Identifier") {
        group = item.getStringValue().c_str();
      } else {
        values.texts[group][concept] = item.getStringValue().c_str();
      }
      break;
    case DSRTypes::VT_Code:
      values.codes[group][concept] = item.getCodeValue().getCodeValue().c_str();
      values.schemes[group][concept] = item.getCodeValue().getCodingSchemeDesignator().c_str();
      break;
    case DSRTypes::VT_Num:
      if (item.getNumericValue().getNumericValue().empty()) {
        values.qualifiers[group][concept] =
            item.getNumericValue().getNumericValueQualifier().getCodeValue().c_str();
        break;
      }
      values.numbers[group][concept] = std::stod(item.getNumericValue().getNumericValue().c_str());
      values.units[group][concept] =
          item.getNumericValue().getMeasurementUnit().getCodeValue().c_str();
      break;
    default:
      break;
    }
  } while (tree.iterate() != 0);
  return values;
}

TEST_F(DicomExport, ReportListsTheFilesAndTheAuditRecordsThem) {
  EXPECT_EQ(outcome_.exportsFailed, 0);
  const json audit = json::parse(readBytes(out() / "audit.json"));
  std::set<std::string> audited;
  for (const json& entry : audit["dicom_outputs"]) {
    audited.insert(fs::path(entry["path"].get<std::string>()).filename().string());
    EXPECT_EQ(entry["sha256"].get<std::string>().size(), 64U);
  }
  ASSERT_EQ(report_["timepoints"].size(), 2U);
  for (const json& tp : report_["timepoints"]) {
    ASSERT_TRUE(tp["sr_file"].is_string()) << tp.dump();
    EXPECT_TRUE(fs::exists(out() / tp["sr_file"].get<std::string>()));
    EXPECT_EQ(audited.count(fs::path(tp["sr_file"].get<std::string>()).filename().string()), 1U);
    for (const json& series : tp["series"]) {
      if (series["modality"] == "CT") {
        ASSERT_TRUE(series["seg_file"].is_string()) << series.dump();
        EXPECT_TRUE(fs::exists(out() / series["seg_file"].get<std::string>()));
        EXPECT_EQ(
            audited.count(fs::path(series["seg_file"].get<std::string>()).filename().string()), 1U);
      } else {
        EXPECT_FALSE(series.contains("seg_file"));
      }
    }
  }
}

TEST_F(DicomExport, FilesPassDciodvfy) {
  if (!unionscope::test::haveDciodvfy()) {
    GTEST_SKIP() << "dciodvfy (dicom3tools) is not installed";
  }
  for (const json& tp : report_["timepoints"]) {
    std::vector<std::string> files{tp["sr_file"].get<std::string>()};
    for (const json& series : tp["series"]) {
      if (series.contains("seg_file")) {
        files.push_back(series["seg_file"].get<std::string>());
      }
    }
    for (const std::string& file : files) {
      const std::string output = unionscope::test::dciodvfyOutput(out() / file);
      EXPECT_EQ(output.find("Error"), std::string::npos) << file << ":\n" << output;
    }
  }
}

TEST_F(DicomExport, SrValuesEqualTheReport) {
  namespace codes = unionscope::dicom::codes;
  for (const json& tp : report_["timepoints"]) {
    const std::string label = tp["label"].get<std::string>();
    const SrValues sr = readSr(out() / tp["sr_file"].get<std::string>());
    for (const char* cortex : {"anterior", "posterior", "medial", "lateral"}) {
      const json& expected = tp["cortices"][cortex];
      const std::string group = label + " " + cortex + " cortex";
      ASSERT_EQ(sr.codes.count(group), 1U) << group;
      const auto& codesOfGroup = sr.codes.at(group);
      if (expected["category"].is_null()) {
        EXPECT_EQ(codesOfGroup.count(codes::kCortexCategory.meaning), 0U);
        continue;
      }
      EXPECT_EQ(codesOfGroup.at(codes::kCortexCategory.meaning),
                "MRUST-" + std::to_string(expected["category"].get<int>()))
          << group;
      EXPECT_EQ(sr.schemes.at(group).at(codes::kCortexCategory.meaning), codes::kPrivateScheme);
      EXPECT_EQ(codesOfGroup.at(codes::kCortexBridged.meaning),
                expected["bridged"].get<bool>() ? codes::kYes.value : codes::kNo.value)
          << group;
      ASSERT_TRUE(expected.contains("bridged_fraction"));
      EXPECT_EQ(sr.numbers.at(group).at(codes::kBridgedFraction.meaning),
                expected["bridged_fraction"].get<double>())
          << group;
    }
    const std::string scores = label + " union scores";
    if (tp["union"].is_boolean()) {
      EXPECT_EQ(sr.codes.at(scores).at(codes::kUnion.meaning),
                tp["union"].get<bool>() ? codes::kYes.value : codes::kNo.value);
    }
    if (tp["rust"].is_number()) {
      EXPECT_EQ(sr.numbers.at(scores).at(codes::kRust.meaning), tp["rust"].get<double>());
      EXPECT_EQ(sr.numbers.at(scores).at(codes::kModifiedRust.meaning), tp["mrust"].get<double>());
    }
    for (const json& series : tp["series"]) {
      if (series["modality"] != "CT") {
        continue;
      }
      // One CT series per phantom visit: one callus group, "<label> callus series <N>".
      std::string callus;
      for (const auto& [group, numbers] : sr.numbers) {
        callus = group.rfind(label + " callus series ", 0) == 0 ? group : callus;
      }
      ASSERT_FALSE(callus.empty()) << label;
      EXPECT_EQ(sr.numbers.at(callus).at("Volume"), series["callus_volume_mm3"].get<double>());
      EXPECT_EQ(sr.units.at(callus).at("Volume"), "mm3");
      EXPECT_EQ(sr.numbers.at(callus).at("Attenuation Coefficient"),
                series["callus_mean_hu"].get<double>());
      EXPECT_EQ(sr.units.at(callus).at("Attenuation Coefficient"), "[hnsf'U]");
    }
  }
}

TEST_F(DicomExport, SrSaysWhatCannotBeAssessed) {
  // A visit whose medial and lateral cortices have no category (laterality
  // unknown) and so no RUST, mRUST or union: the report is still valid.
  namespace codes = unionscope::dicom::codes;
  const unionscope::dicom::ScanResult scan =
      unionscope::dicom::scanDicom({directory_->path() / "patient" / "dicom"});
  unionscope::dicom::MeasurementReportRequest request;
  for (const auto& series : scan.patients.at(0).studies.at(0).series) {
    if (series.modality == "CT") {
      request.sourceImages = series.instances;
    }
  }
  ASSERT_FALSE(request.sourceImages.empty());
  request.timepointLabel = "W12";
  for (std::size_t c = 0; c < 4; ++c) {
    if (c < 2) {
      request.cortices[c].category = 3;
      request.cortices[c].bridgedFraction = 0.5;
    } else {
      request.cortices[c].notAssessable = "laterality unknown";
    }
  }
  const unionscope::dicom::UidFactory uids(99);
  request.seriesInstanceUid = uids.uid("series");
  request.sopInstanceUid = uids.uid("instance");
  request.deviceObserverUid = uids.uid("device");
  request.trackingUidPrefix = uids.uid("tracking");
  const fs::path file = directory_->path() / "partial" / "SR.dcm";
  unionscope::dicom::writeMeasurementReport(request, file);
  const SrValues sr = readSr(file);
  EXPECT_EQ(sr.codes.at("W12 anterior cortex").at(codes::kCortexCategory.meaning), "MRUST-3");
  EXPECT_EQ(sr.codes.at("W12 medial cortex").count(codes::kCortexCategory.meaning), 0U);
  EXPECT_EQ(sr.texts.at("W12 medial cortex").at(codes::kNotAssessable.meaning),
            "laterality unknown");
  // "Value unknown" (DCM 114010) where no number can be given.
  EXPECT_EQ(sr.qualifiers.at("W12 medial cortex").at(codes::kBridgedFraction.meaning), "114010");
  EXPECT_EQ(sr.qualifiers.at("W12 union scores").at(codes::kRust.meaning), "114010");
  EXPECT_EQ(sr.codes.at("W12 union scores").count(codes::kUnion.meaning), 0U);
  if (unionscope::test::haveDciodvfy()) {
    const std::string output = unionscope::test::dciodvfyOutput(file);
    EXPECT_EQ(unionscope::test::linesStartingWith(output, "Error"), 0) << output;
  }
}

/// Frames of a binary SEG read with dcmdata alone: per frame its segment,
/// the SOP Instance UID it derives from, and its number of set pixels.
struct SegFrame {
  int segment = 0;
  std::string source;
  std::size_t pixels = 0;
};

std::vector<SegFrame> readSegFrames(const fs::path& file, std::string& referencedSeries) {
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(OFFilename(file.c_str())).good()) << file;
  DcmDataset& ds = *dcm.getDataset();
  Uint16 rows = 0;
  Uint16 columns = 0;
  ds.findAndGetUint16(DCM_Rows, rows);
  ds.findAndGetUint16(DCM_Columns, columns);
  const Uint8* bits = nullptr;
  unsigned long bytes = 0;
  EXPECT_TRUE(ds.findAndGetUint8Array(DCM_PixelData, bits, &bytes).good());
  DcmItem* series = nullptr;
  if (ds.findAndGetSequenceItem(DCM_ReferencedSeriesSequence, series, 0).good()) {
    OFString uid;
    series->findAndGetOFString(DCM_SeriesInstanceUID, uid);
    referencedSeries = uid.c_str();
  }
  std::vector<SegFrame> frames;
  const std::size_t framePixels = static_cast<std::size_t>(rows) * columns;
  for (long f = 0;; ++f) {
    DcmItem* perFrame = nullptr;
    if (ds.findAndGetSequenceItem(DCM_PerFrameFunctionalGroupsSequence, perFrame, f).bad()) {
      break;
    }
    SegFrame frame;
    DcmItem* item = nullptr;
    Uint16 segment = 0;
    perFrame->findAndGetSequenceItem(DCM_SegmentIdentificationSequence, item, 0);
    if (item != nullptr) {
      item->findAndGetUint16(DCM_ReferencedSegmentNumber, segment);
    }
    frame.segment = segment;
    OFString source;
    perFrame->findAndGetOFString(DCM_ReferencedSOPInstanceUID, source, 0, OFTrue /*searchIntoSub*/);
    frame.source = source.c_str();
    // Binary pixels are packed across frames, least significant bit first.
    for (std::size_t p = 0; p < framePixels; ++p) {
      const std::size_t bit = static_cast<std::size_t>(f) * framePixels + p;
      if (bit / 8 < bytes && ((bits[bit / 8] >> (bit % 8)) & 1U) != 0) {
        ++frame.pixels;
      }
    }
    frames.push_back(frame);
  }
  return frames;
}

TEST_F(DicomExport, SegCallusReferencesTheSourceImagesAndMatchesTheReportedVolume) {
  for (const json& tp : report_["timepoints"]) {
    for (const json& series : tp["series"]) {
      if (series["modality"] != "CT") {
        continue;
      }
      const fs::path file = out() / series["seg_file"].get<std::string>();
      std::set<std::string> sourceUids;
      fs::path firstSource;
      for (const json& source : series["source_files"]) {
        sourceUids.insert(sopInstanceUidOf(source.get<std::string>()));
        firstSource = source.get<std::string>();
      }
      std::string referencedSeries;
      const std::vector<SegFrame> frames = readSegFrames(file, referencedSeries);
      EXPECT_EQ(referencedSeries, series["series_instance_uid"].get<std::string>());
      std::array<std::size_t, 4> voxels{};
      std::array<int, 4> frameCount{};
      for (const SegFrame& frame : frames) {
        ASSERT_GE(frame.segment, 1);
        ASSERT_LE(frame.segment, 3);
        voxels[static_cast<std::size_t>(frame.segment)] += frame.pixels;
        ++frameCount[static_cast<std::size_t>(frame.segment)];
        EXPECT_EQ(sourceUids.count(frame.source), 1U) << "frame derives from an unknown image";
        EXPECT_GT(frame.pixels, 0U) << "empty frames are not written";
      }
      EXPECT_GT(frameCount[unionscope::dicom::kSegmentCallus], 0);
      EXPECT_GT(frameCount[unionscope::dicom::kSegmentBone], 0);
      EXPECT_GT(frameCount[unionscope::dicom::kSegmentMetal], 0) << "the phantom has a plate";

      // Callus voxels x voxel volume against the reported callus volume.
      DcmFileFormat ct;
      ASSERT_TRUE(
          ct.loadFile(OFFilename(firstSource.c_str()), EXS_Unknown, EGL_noChange, 256).good());
      Float64 rowSpacing = 0;
      Float64 columnSpacing = 0;
      Float64 thickness = 0;
      ct.getDataset()->findAndGetFloat64(DCM_PixelSpacing, rowSpacing, 0);
      ct.getDataset()->findAndGetFloat64(DCM_PixelSpacing, columnSpacing, 1);
      ct.getDataset()->findAndGetFloat64(DCM_SliceThickness, thickness);
      const double volume =
          voxels[unionscope::dicom::kSegmentCallus] * rowSpacing * columnSpacing * thickness;
      const double reported = series["callus_volume_mm3"].get<double>();
      EXPECT_NEAR(volume, reported, 0.03 * reported) << file;

      // And DCMTK's own SEG reader accepts it.
      DcmSegmentation* loaded = nullptr;
      ASSERT_TRUE(DcmSegmentation::loadFile(file.c_str(), loaded).good()) << file;
      const std::unique_ptr<DcmSegmentation> seg(loaded);
      EXPECT_EQ(seg->getNumberOfSegments(), 3U);
      EXPECT_EQ(seg->getNumberOfFrames(), frames.size());
    }
  }
}

TEST_F(DicomExport, SameInputSameFilesByteForByte) {
  const unionscope::AnalyzeOutcome again = analyze("again");
  const fs::path second = directory_->path() / "again";
  EXPECT_EQ(readBytes(out() / "report.json"), readBytes(second / "report.json"));
  EXPECT_EQ(readBytes(out() / "report.html"), readBytes(second / "report.html"));
  for (const json& tp : report_["timepoints"]) {
    const std::string sr = tp["sr_file"].get<std::string>();
    EXPECT_EQ(readBytes(out() / sr), readBytes(second / sr)) << sr;
    for (const json& series : tp["series"]) {
      if (series.contains("seg_file")) {
        const std::string seg = series["seg_file"].get<std::string>();
        EXPECT_EQ(readBytes(out() / seg), readBytes(second / seg)) << seg;
      }
    }
  }
}

TEST_F(DicomExport, MovingTheInputKeepsTheFiles) {
  const fs::path moved = directory_->path() / "moved";
  fs::create_directories(moved);
  fs::copy(directory_->path() / "patient" / "dicom", moved / "elsewhere",
           fs::copy_options::recursive);
  unionscope::AnalyzeOptions options;
  options.inputs = {moved / "elsewhere"};
  options.outputDirectory = moved / "out";
  options.referenceDate = "2025-03-03";
  unionscope::analyzePatient(options);
  for (const json& tp : report_["timepoints"]) {
    const std::string sr = tp["sr_file"].get<std::string>();
    EXPECT_EQ(readBytes(out() / sr), readBytes(options.outputDirectory / sr)) << sr;
  }
}

TEST_F(DicomExport, OneFailedVisitDoesNotLoseTheOthers) {
  // A folder where the first visit's SR should go: that file cannot be written.
  const fs::path folder = directory_->path() / "blocked";
  const std::string first = report_["timepoints"][0]["sr_file"].get<std::string>();
  fs::create_directories(folder / first / "occupied");
  const unionscope::AnalyzeOutcome outcome = analyze("blocked");
  EXPECT_EQ(outcome.exportsFailed, 1);
  const json report = json::parse(readBytes(folder / "report.json"));
  const json& failed = report["timepoints"][0];
  EXPECT_TRUE(failed["sr_file"].is_null());
  ASSERT_EQ(failed["notes"].size(), 1U);
  EXPECT_NE(failed["notes"][0].get<std::string>().find(first), std::string::npos)
      << "the note names the file";
  const json& kept = report["timepoints"][1];
  ASSERT_TRUE(kept["sr_file"].is_string());
  EXPECT_TRUE(fs::is_regular_file(folder / kept["sr_file"].get<std::string>()));
  EXPECT_EQ(kept["cortices"], report_["timepoints"][1]["cortices"]);
}

/// The text of an attribute of a file's dataset (top level).
std::string attribute(const fs::path& file, const DcmTagKey& tag) {
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(OFFilename(file.c_str())).good()) << file;
  OFString value;
  dcm.getDataset()->findAndGetOFStringArray(tag, value);
  return value.c_str();
}

TEST_F(DicomExport, DeidentifiedFilesKeepIntervalsAndLinksButNoIdentity) {
  unionscope::AnalyzeOptions options;
  options.inputs = {directory_->path() / "patient" / "dicom"};
  options.outputDirectory = directory_->path() / "deidentified";
  options.referenceDate = "2025-03-03";
  options.deidentify.enabled = true;
  options.deidentify.secret = "test secret";
  options.deidentify.dateShiftDays = -1000;
  const unionscope::AnalyzeOutcome outcome = unionscope::analyzePatient(options);
  EXPECT_EQ(outcome.exportsFailed, 0);
  const json report = json::parse(readBytes(options.outputDirectory / "report.json"));
  const std::string patientId = report_["patient_id"].get<std::string>();
  ASSERT_EQ(report["timepoints"].size(), report_["timepoints"].size());
  const bool haveDciodvfy = unionscope::test::haveDciodvfy();
  std::string pseudonym;
  std::set<std::string> allSourceUids;
  for (std::size_t v = 0; v < report["timepoints"].size(); ++v) {
    const json& tp = report["timepoints"][v];
    const json& plain = report_["timepoints"][v];
    // The scores do not change.
    for (const char* key : {"label", "weeks", "cortices", "rust", "mrust", "union"}) {
      EXPECT_EQ(tp[key], plain[key]) << key;
    }
    std::set<std::string> sourceUids{plain["study_instance_uid"].get<std::string>()};
    std::string segFile;
    ASSERT_EQ(tp["series"].size(), plain["series"].size());
    for (std::size_t s = 0; s < tp["series"].size(); ++s) {
      const json& series = tp["series"][s];
      EXPECT_EQ(series["cortices"], plain["series"][s]["cortices"]);
      sourceUids.insert(plain["series"][s]["series_instance_uid"].get<std::string>());
      for (const json& source : plain["series"][s]["source_files"]) {
        sourceUids.insert(sopInstanceUidOf(source.get<std::string>()));
      }
      // The report names its inputs by content, not by path.
      for (const json& source : series["source_files"]) {
        EXPECT_EQ(source.get<std::string>().rfind("sha256:", 0), 0U) << source;
      }
      segFile = series.contains("seg_file") ? series["seg_file"].get<std::string>() : segFile;
    }
    allSourceUids.insert(sourceUids.begin(), sourceUids.end());
    ASSERT_FALSE(segFile.empty());
    const fs::path sr = options.outputDirectory / tp["sr_file"].get<std::string>();
    const fs::path seg = options.outputDirectory / segFile;
    const long studyDay = *unionscope::daysSinceEpoch(plain["study_date"].get<std::string>());
    for (const fs::path& file : {sr, seg}) {
      const std::string bytes = readBytes(file);
      EXPECT_EQ(bytes.find(patientId), std::string::npos) << file << " names the patient";
      for (const std::string& uid : sourceUids) {
        EXPECT_EQ(bytes.find(uid), std::string::npos) << file << " carries a source UID";
      }
      EXPECT_EQ(attribute(file, DCM_PatientIdentityRemoved), "YES");
      EXPECT_EQ(attribute(file, DCM_LongitudinalTemporalInformationModified), "MODIFIED");
      EXPECT_EQ(attribute(file, DCM_StudyDate), unionscope::dicomDate(studyDay - 1000)) << file;
      EXPECT_TRUE(attribute(file, DCM_PatientBirthDate).empty());
      pseudonym = pseudonym.empty() ? attribute(file, DCM_PatientID) : pseudonym;
      EXPECT_EQ(attribute(file, DCM_PatientID), pseudonym) << "one pseudonym for every file";
      EXPECT_EQ(attribute(file, DCM_PatientName), pseudonym);
      DcmFileFormat dcm;
      ASSERT_TRUE(dcm.loadFile(OFFilename(file.c_str())).good());
      std::set<std::string> methods;
      for (unsigned long i = 0;; ++i) {
        DcmItem* item = nullptr;
        if (dcm.getDataset()
                ->findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, item,
                                         static_cast<signed long>(i))
                .bad()) {
          break;
        }
        OFString code;
        item->findAndGetOFString(DCM_CodeValue, code);
        methods.insert(code.c_str());
      }
      EXPECT_EQ(methods, (std::set<std::string>{"113100", "113105", "113107"})) << file;
      if (haveDciodvfy) {
        const std::string output = unionscope::test::dciodvfyOutput(file);
        EXPECT_EQ(unionscope::test::linesStartingWith(output, "Error"), 0) << file << ":\n"
                                                                           << output;
      }
    }
    // The SR still points at the SEG: both UIDs were mapped the same way.
    EXPECT_NE(readBytes(sr).find(attribute(seg, DCM_SOPInstanceUID)), std::string::npos);
    // The report points at the de-identified study, on the shifted date.
    EXPECT_EQ(tp["study_instance_uid"], attribute(sr, DCM_StudyInstanceUID));
    EXPECT_EQ(tp["study_date"],
              unionscope::isoDate(unionscope::dicomDate(
                  *unionscope::daysSinceEpoch(plain["study_date"].get<std::string>()) - 1000)));
  }
  EXPECT_EQ(pseudonym.rfind("ANON-", 0), 0U) << pseudonym;
  EXPECT_EQ(report["patient_id"], pseudonym);
  // Nothing a person reads or shares names the patient, a source UID or an
  // input path (which can carry a name).
  const std::string inputPath = (directory_->path() / "patient").string();
  for (const char* file : {"report.json", "measurements.csv", "report.html"}) {
    const std::string bytes = readBytes(options.outputDirectory / file);
    EXPECT_EQ(bytes.find(patientId), std::string::npos) << file << " names the patient";
    EXPECT_EQ(bytes.find(inputPath), std::string::npos) << file << " names an input path";
    for (const std::string& uid : allSourceUids) {
      EXPECT_EQ(bytes.find(uid), std::string::npos) << file << " carries source UID " << uid;
    }
  }
  const json audit = json::parse(readBytes(options.outputDirectory / "audit.json"));
  EXPECT_EQ(audit["dicom_deidentification"]["pseudonym"], pseudonym);
  EXPECT_EQ(audit["dicom_deidentification"]["date_shift_days"], -1000);
}

TEST_F(DicomExport, NoDicomWhenNotAskedFor) {
  unionscope::AnalyzeOptions options;
  options.inputs = {directory_->path() / "patient" / "dicom"};
  options.outputDirectory = directory_->path() / "plain";
  options.referenceDate = "2025-03-03";
  options.writeDicom = false;
  const unionscope::AnalyzeOutcome outcome = unionscope::analyzePatient(options);
  EXPECT_TRUE(outcome.dicomFiles.empty());
  EXPECT_FALSE(fs::exists(options.outputDirectory / "dicom"));
  const json report = json::parse(readBytes(options.outputDirectory / "report.json"));
  EXPECT_FALSE(report["timepoints"][0].contains("sr_file"));
  EXPECT_EQ(report["timepoints"][0]["cortices"], report_["timepoints"][0]["cortices"]);
}

} // namespace
