#include "TestSupport.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/InspectReport.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/DicomWriter.h"
#include "unionscope/pipeline/dicom/UidFactory.h"

#include <dcmtk/dcmdata/dcddirif.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <nlohmann/json.hpp>

using namespace unionscope;
using namespace unionscope::dicom;
namespace fs = std::filesystem;

namespace {

struct WrittenStudy {
  std::vector<fs::path> ctFiles;
  fs::path dxFile;
  std::string ctSeriesUid;
};

WrittenStudy writeSmallStudy(const fs::path& dir, const UidFactory& uids,
                             const CtEncoding& encoding) {
  PatientModule patient{"SECRET-ID-123", "Doe^Jane", "19800101", "F"};
  StudyModule study;
  study.instanceUid = uids.uid("study");
  study.date = "20250526";
  study.time = "101500";
  study.description = "Tibia follow-up";
  SeriesModule ct;
  ct.instanceUid = uids.uid("series/ct");
  ct.number = 3;
  ct.description = "CT bone";
  ct.laterality = "R";
  ct.frameOfReferenceUid = uids.uid("for");
  auto volume = test::makeRampVolume(16, 12, 5, {0.5, 0.6, 1.25}, {-40.0, 12.5, -300.0});
  std::vector<std::string> sops;
  for (int k = 0; k < 5; ++k) {
    sops.push_back(uids.uid("sop/ct/" + std::to_string(k)));
  }
  WrittenStudy written;
  written.ctFiles = writeCtSeries(*volume, dir / "ct", patient, study, ct, sops, encoding);
  written.ctSeriesUid = ct.instanceUid;

  SeriesModule dxSeries;
  dxSeries.instanceUid = uids.uid("series/dx");
  dxSeries.number = 4;
  dxSeries.description = "AP";
  auto radiograph = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize({{20, 30}});
  radiograph->SetRegions(region);
  radiograph->Allocate();
  radiograph->FillBuffer(0.25F);
  DxImageSpec spec;
  spec.viewPosition = "AP";
  spec.imageLaterality = "R";
  spec.sopInstanceUid = uids.uid("sop/dx");
  written.dxFile = writeDxImage(*radiograph, dir / "dx" / "ap.dcm", patient, study, dxSeries, spec);
  return written;
}

double readHu(const fs::path& file, unsigned long pixelIndex) {
  DcmFileFormat dcm;
  EXPECT_TRUE(dcm.loadFile(file.c_str()).good());
  DcmDataset& ds = *dcm.getDataset();
  Float64 slope = 0;
  Float64 intercept = 0;
  Uint16 representation = 0;
  EXPECT_TRUE(ds.findAndGetFloat64(DCM_RescaleSlope, slope).good());
  EXPECT_TRUE(ds.findAndGetFloat64(DCM_RescaleIntercept, intercept).good());
  EXPECT_TRUE(ds.findAndGetUint16(DCM_PixelRepresentation, representation).good());
  const Uint16* pixels = nullptr;
  EXPECT_TRUE(ds.findAndGetUint16Array(DCM_PixelData, pixels).good());
  const double stored = representation == 1
                            ? static_cast<double>(static_cast<Sint16>(pixels[pixelIndex]))
                            : static_cast<double>(pixels[pixelIndex]);
  return stored * slope + intercept;
}

} // namespace

class CtEncodingRoundTrip : public ::testing::TestWithParam<CtEncoding> {};

TEST_P(CtEncodingRoundTrip, StoredValuesRescaleBackToHu) {
  test::TempDir dir;
  const WrittenStudy written = writeSmallStudy(dir.path(), UidFactory(3), GetParam());
  ASSERT_EQ(written.ctFiles.size(), 5U);
  // Slice k=2, pixel (i=5, j=4): HU = 50 - 28 + 200 - 500 = -278.
  EXPECT_DOUBLE_EQ(readHu(written.ctFiles[2], 4 * 16 + 5), -278.0);
  // Slice k=4, pixel (15, 0): HU = 150 + 400 - 500 = 50.
  EXPECT_DOUBLE_EQ(readHu(written.ctFiles[4], 15), 50.0);
}

INSTANTIATE_TEST_SUITE_P(Encodings, CtEncodingRoundTrip,
                         ::testing::Values(CtEncoding{1.0, -1024.0, false, 12},
                                           CtEncoding{1.0, 0.0, true, 16},
                                           CtEncoding{0.5, -1024.0, false, 14}));

TEST(DicomWriter, CtGeometryIsWrittenPerSlice) {
  test::TempDir dir;
  const WrittenStudy written = writeSmallStudy(dir.path(), UidFactory(5), {});
  for (std::size_t k = 0; k < written.ctFiles.size(); ++k) {
    const HeaderReadResult read = readDicomHeader(written.ctFiles[k]);
    ASSERT_TRUE(read.header) << read.rejectReason;
    const DicomFileHeader& h = *read.header;
    ASSERT_TRUE(h.imagePositionPatient);
    EXPECT_NEAR((*h.imagePositionPatient)[0], -40.0, 1e-9);
    EXPECT_NEAR((*h.imagePositionPatient)[1], 12.5, 1e-9);
    EXPECT_NEAR((*h.imagePositionPatient)[2], -300.0 + 1.25 * static_cast<double>(k), 1e-9);
    ASSERT_TRUE(h.imageOrientationPatient);
    EXPECT_EQ(*h.imageOrientationPatient, (std::array<double, 6>{1, 0, 0, 0, 1, 0}));
    EXPECT_EQ(h.columns, 16);
    EXPECT_EQ(h.rows, 12);
    EXPECT_EQ(h.modality, "CT");
    EXPECT_EQ(h.laterality, "R");
    EXPECT_EQ(h.instanceNumber, static_cast<int>(k + 1));
  }
}

TEST(DicomScan, GroupsSeriesAndRejectsUnusableFilesWithReasons) {
  test::TempDir dir;
  const WrittenStudy written = writeSmallStudy(dir.path() / "study", UidFactory(11), {});
  // Files with no extension, renamed and moved into other folders, still group.
  fs::create_directories(dir.path() / "mixed" / "deep");
  fs::rename(written.ctFiles[1], dir.path() / "mixed" / "deep" / "IMG0001");
  fs::rename(written.ctFiles[3], dir.path() / "mixed" / "x");
  test::writeText(dir.path() / "notes.txt", "not a dicom file, just some text that is long enough");
  test::writeText(dir.path() / "empty.dcm", "");
  const std::string bytes = test::readBytes(written.ctFiles[0]);
  test::writeText(dir.path() / "truncated.dcm", bytes.substr(0, bytes.size() - 100));

  const ScanResult scan = scanDicom({dir.path()});
  EXPECT_EQ(scan.filesExamined, 9U);
  ASSERT_EQ(scan.patients.size(), 1U);
  EXPECT_EQ(scan.patients[0].patientId, "SECRET-ID-123");
  ASSERT_EQ(scan.patients[0].studies.size(), 1U);
  const StudyGroup& study = scan.patients[0].studies[0];
  EXPECT_EQ(study.studyDate, "20250526");
  ASSERT_EQ(study.series.size(), 2U);
  const SeriesGroup* ct = nullptr;
  const SeriesGroup* dx = nullptr;
  for (const SeriesGroup& s : study.series) {
    (s.modality == "CT" ? ct : dx) = &s;
  }
  ASSERT_TRUE(ct && dx);
  EXPECT_EQ(ct->seriesInstanceUid, written.ctSeriesUid);
  EXPECT_EQ(ct->instances.size(), 5U);
  EXPECT_EQ(ct->dimensions(), std::vector<std::string>{"16x12"});
  EXPECT_EQ(dx->modality, "DX");
  EXPECT_EQ(dx->instances.size(), 1U);
  EXPECT_EQ(dx->instances[0].viewPosition, "AP");

  ASSERT_EQ(scan.rejected.size(), 3U);
  std::map<std::string, std::string> reasons;
  for (const RejectedFile& r : scan.rejected) {
    reasons[r.path.filename().string()] = r.reason;
  }
  EXPECT_EQ(reasons["notes.txt"], "not a DICOM file");
  EXPECT_EQ(reasons["empty.dcm"], "empty file");
  EXPECT_FALSE(reasons["truncated.dcm"].empty());
}

TEST(DicomScan, MissingInputIsReportedNotThrown) {
  const ScanResult scan = scanDicom({"/nonexistent/unionscope/path"});
  ASSERT_EQ(scan.rejected.size(), 1U);
  EXPECT_NE(scan.rejected[0].reason.find("does not exist"), std::string::npos);
  EXPECT_TRUE(scan.patients.empty());
}

TEST(DicomScan, PixelDataShorterThanDeclaredIsRejected) {
  test::TempDir dir;
  const WrittenStudy written = writeSmallStudy(dir.path(), UidFactory(13), {});
  DcmFileFormat dcm;
  ASSERT_TRUE(dcm.loadFile(written.ctFiles[0].c_str()).good());
  // Declare a far larger image than the pixel data holds.
  dcm.getDataset()->putAndInsertUint16(DCM_Rows, 4000);
  dcm.getDataset()->putAndInsertUint16(DCM_Columns, 4000);
  const fs::path hostile = dir.path() / "hostile.dcm";
  ASSERT_TRUE(dcm.saveFile(hostile.c_str(), EXS_LittleEndianExplicit).good());
  const HeaderReadResult read = readDicomHeader(hostile);
  EXPECT_FALSE(read.header);
  EXPECT_NE(read.rejectReason.find("Pixel Data holds"), std::string::npos) << read.rejectReason;
}

TEST(InspectReport, HidesPatientIdsUnlessAsked) {
  test::TempDir dir;
  writeSmallStudy(dir.path(), UidFactory(17), {});
  const ScanResult scan = scanDicom({dir.path()});
  const std::string table = inspectTable(scan);
  const nlohmann::json json = inspectJson(scan);
  EXPECT_EQ(table.find("SECRET-ID-123"), std::string::npos);
  EXPECT_EQ(json.dump().find("SECRET-ID-123"), std::string::npos);
  EXPECT_EQ(json["patients"][0]["patient"], "P1");
  EXPECT_EQ(json["files_used"], 6);
  EXPECT_EQ(json["series_count"], 2);
  const nlohmann::json shown = inspectJson(scan, {true});
  EXPECT_EQ(shown["patients"][0]["patient_id"], "SECRET-ID-123");
}

TEST(DicomScan, RealConformanceFilesAreReadOrRejectedWithReason) {
  const fs::path realdata = fs::path(UNIONSCOPE_SHARED_DIR) / "realdata";
  if (!fs::exists(realdata)) {
    GTEST_SKIP() << "no ../shared/realdata on this machine";
  }
  const ScanResult scan = scanDicom({realdata / "dicom_wg04", realdata / "dicom_misc"});
  std::size_t grouped = 0;
  for (const PatientGroup& p : scan.patients) {
    for (const StudyGroup& s : p.studies) {
      for (const SeriesGroup& series : s.series) {
        grouped += series.instances.size();
      }
    }
  }
  // Nothing is dropped silently: every file is grouped, rejected or an index.
  EXPECT_EQ(grouped + scan.rejected.size() + scan.dicomdirs.size(), scan.filesExamined);
  EXPECT_GT(grouped, 20U);
  for (const RejectedFile& r : scan.rejected) {
    EXPECT_FALSE(r.reason.empty()) << r.path;
    if (r.path.filename() == "Issue56-NoPixelData.dcm") {
      EXPECT_NE(r.reason.find("no Pixel Data"), std::string::npos) << r.reason;
    }
  }
}

TEST(DicomScan, DicomdirBringsInTheFilesItLists) {
  test::TempDir dir;
  const WrittenStudy written = writeSmallStudy(dir.path() / "staging", UidFactory(23), {});
  // DICOMDIR file IDs are upper-case, at most 8 characters, no extension.
  fs::create_directories(dir.path() / "DCM");
  std::vector<std::string> ids;
  for (std::size_t k = 0; k < written.ctFiles.size(); ++k) {
    ids.push_back("DCM/IMG" + std::to_string(k + 1));
    fs::copy_file(written.ctFiles[k], dir.path() / ids.back());
  }
  fs::remove_all(dir.path() / "staging");
  DicomDirInterface dicomdir;
  dicomdir.enableInventMode(OFTrue);
  const fs::path index = dir.path() / "DICOMDIR";
  ASSERT_TRUE(
      dicomdir.createNewDicomDir(DicomDirInterface::AP_GeneralPurpose, index.c_str()).good());
  for (const std::string& id : ids) {
    ASSERT_TRUE(dicomdir.addDicomFile(id.c_str(), dir.path().c_str()).good()) << id;
  }
  ASSERT_TRUE(dicomdir.writeDicomDir().good());

  // The DICOMDIR alone brings in every file it lists.
  const ScanResult fromIndex = scanDicom({index});
  ASSERT_EQ(fromIndex.dicomdirs.size(), 1U);
  EXPECT_EQ(fromIndex.dicomdirs[0].listedFiles, 5U);
  EXPECT_TRUE(fromIndex.rejected.empty());
  ASSERT_EQ(fromIndex.patients.size(), 1U);
  EXPECT_EQ(fromIndex.patients[0].studies.at(0).series.at(0).instances.size(), 5U);

  // Walking the folder meets both the files and the index: nothing twice.
  const ScanResult fromFolder = scanDicom({dir.path()});
  EXPECT_EQ(fromFolder.filesExamined, 6U);
  EXPECT_EQ(fromFolder.patients.at(0).studies.at(0).series.at(0).instances.size(), 5U);
  EXPECT_TRUE(fromFolder.rejected.empty());
}

TEST(Audit, Sha256MatchesTheStandardTestVector) {
  test::TempDir dir;
  test::writeText(dir.path() / "abc", "abc");
  // FIPS 180-2, appendix B.1.
  EXPECT_EQ(sha256OfFile(dir.path() / "abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_THROW(sha256OfFile(dir.path() / "missing"), std::runtime_error);
  const std::string now = utcTimestampNow();
  EXPECT_EQ(now.size(), 20U);
  EXPECT_EQ(now.back(), 'Z');
}
