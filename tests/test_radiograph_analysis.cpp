// Radiograph union analysis: on real radiographs (FracAtlas, when
// ../shared/realdata is present) the detected fracture line must meet the
// annotated fracture box, and on phantom radiographs the per-cortex
// categories must agree with the truth.

#include "TestSupport.h"
#include "unionscope/filters/RadiographUnionAnalysis.h"
#include "unionscope/pipeline/RadiographOverlay.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/SeriesLoader.h"
#include "unionscope/sample_data/Phantom.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <stdexcept>

using namespace unionscope;

namespace {

const std::filesystem::path kFracAtlas =
    std::filesystem::path(UNIONSCOPE_SHARED_DIR) / "realdata" / "fracatlas";

/// Where to put overlays for a person to look at (optional).
std::optional<std::filesystem::path> debugDirectory() {
  if (const char* dir = std::getenv("UNIONSCOPE_DEBUG_OVERLAYS"); dir != nullptr && *dir != 0) {
    return std::filesystem::path(dir);
  }
  return std::nullopt;
}

struct Box {
  double x0, y0, x1, y1;
};

std::vector<Box> vocBoxes(const std::filesystem::path& xml) {
  std::ifstream in(xml);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  const std::regex box(
      R"(<xmin>(\d+)</xmin>\s*<ymin>(\d+)</ymin>\s*<xmax>(\d+)</xmax>\s*<ymax>(\d+)</ymax>)");
  std::vector<Box> boxes;
  for (auto it = std::sregex_iterator(s.begin(), s.end(), box); it != std::sregex_iterator();
       ++it) {
    boxes.push_back(
        {std::stod((*it)[1]), std::stod((*it)[2]), std::stod((*it)[3]), std::stod((*it)[4])});
  }
  return boxes;
}

/// Liang-Barsky: does the segment meet the (closed) box?
bool segmentMeetsBox(const std::array<std::array<double, 2>, 2>& line, const Box& b) {
  const double x0 = line[0][0], y0 = line[0][1];
  const double dx = line[1][0] - x0, dy = line[1][1] - y0;
  double t0 = 0, t1 = 1;
  const double p[4] = {-dx, dx, -dy, dy};
  const double q[4] = {x0 - b.x0, b.x1 - x0, y0 - b.y0, b.y1 - y0};
  for (int i = 0; i < 4; ++i) {
    if (p[i] == 0) {
      if (q[i] < 0) {
        return false;
      }
    } else {
      const double t = q[i] / p[i];
      if (p[i] < 0) {
        t0 = std::max(t0, t);
      } else {
        t1 = std::min(t1, t);
      }
    }
  }
  return t0 <= t1;
}

/// Does the film's fracture line meet one of the boxes annotated for it
/// (voc/<stem>.xml)?
bool lineMeetsAnnotatedBox(const RadiographAnalysisResult& result, const std::string& stem) {
  if (!result.fractureFound) {
    return false;
  }
  for (const Box& box : vocBoxes(kFracAtlas / "voc" / (stem + ".xml"))) {
    if (segmentMeetsBox(result.fractureLine, box)) {
      return true;
    }
  }
  return false;
}

struct AtlasRow {
  std::string file, region, note, views;
  bool fractured = false;
  bool hardware = false; ///< the data set's label: an implant is on the film
};

std::vector<AtlasRow> atlasRows() {
  std::ifstream in(kFracAtlas / "labels.csv");
  std::string line;
  std::getline(in, line); // header
  std::vector<AtlasRow> rows;
  while (std::getline(in, line)) {
    // file,group,region,fractured,fracture_count,hardware,views,yolo_boxes,note
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (char c : line) {
      if (c == '"') {
        quoted = !quoted;
      } else if (c == ',' && !quoted) {
        fields.push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    fields.push_back(field);
    if (fields.size() < 9) {
      continue;
    }
    rows.push_back(
        {fields[0], fields[2], fields[8], fields[6], fields[3] == "1", fields[5] == "1"});
  }
  return rows;
}

/// Long-bone shaft images: fractured tibia, femur, forearm or humerus (not
/// the shoulder or elbow images, whose fractures are articular).
bool isLongBoneShaft(const AtlasRow& row) {
  if (!row.fractured) {
    return false;
  }
  const std::regex bone("tibia|femur|forearm|humerus");
  const std::regex joint("shoulder|elbow");
  return std::regex_search(row.note, bone) && !std::regex_search(row.note, joint);
}

RadiographView viewOf(const AtlasRow& row) {
  if (row.views == "frontal") {
    return RadiographView::AP;
  }
  if (row.views == "lateral") {
    return RadiographView::Lateral;
  }
  return RadiographView::Unknown;
}

} // namespace

TEST(RadiographAnalysis, FindsTheGapOfASyntheticTubeAndCallsItUnbridged) {
  const auto image = test::makeTubeRadiograph(2.0, 430);
  const RadiographAnalysisResult result = analyzeRadiographUnion(
      *image, 0.2, RadiographView::AP, RadiographOrientation{'L'}, Laterality::Right);
  ASSERT_TRUE(result.boneFound);
  // The shaft is 22 mm across.
  EXPECT_NEAR(result.shaftWidthMm, 22.0, 2.0);
  ASSERT_TRUE(result.fractureFound);
  for (const auto& end : result.fractureLine) {
    EXPECT_NEAR(end[1], 430.0, 4.0);
  }
  // Columns toward the patient's left on a right limb: the image's right
  // side is medial.
  EXPECT_EQ(result.sides[1].cortex, Cortex::Medial);
  EXPECT_EQ(result.sides[0].cortex, Cortex::Lateral);
  for (Cortex cortex : {Cortex::Medial, Cortex::Lateral}) {
    const CortexScore& score = result.cortices[static_cast<std::size_t>(cortex)];
    ASSERT_TRUE(score.category.has_value()) << score.notAssessable;
    EXPECT_FALSE(score.bridged()) << cortexKey(cortex);
  }
  for (Cortex cortex : {Cortex::Anterior, Cortex::Posterior}) {
    EXPECT_EQ(result.cortices[static_cast<std::size_t>(cortex)].notAssessable,
              "not shown on this view");
  }
}

namespace {

/// The synthetic tube as an 8-bit export windowed on the bone would show
/// it: the soft tissue (up to 0.7) squeezed into the lowest fifth, the
/// bone's range (0.7-0.92) spread over the rest.
RadiographImage::Pointer windowedTubeRadiograph() {
  const auto image = test::makeTubeRadiograph(2.0, 430);
  float* pixels = image->GetBufferPointer();
  const std::size_t count = image->GetLargestPossibleRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < count; ++i) {
    const float v = pixels[i];
    pixels[i] = v < 0.7F ? 0.2F * v / 0.7F : std::min(1.0F, 0.2F + 0.8F * (v - 0.7F) / 0.22F);
  }
  return image;
}

/// The analysis' metal as a mask of the film's size.
cv::Mat metalMaskOf(const RadiographAnalysisResult& result, cv::Size size) {
  cv::Mat mask = cv::Mat::zeros(size, CV_8U);
  std::vector<std::vector<cv::Point>> polygons;
  for (const PixelPolyline& outline : result.metalOutlines) {
    std::vector<cv::Point>& polygon = polygons.emplace_back();
    for (const auto& point : outline) {
      polygon.emplace_back(static_cast<int>(std::lround(point[0])),
                           static_cast<int>(std::lround(point[1])));
    }
  }
  cv::fillPoly(mask, polygons, 255);
  return mask;
}

/// A phantom's DX film as the ingest delivers it.
struct PhantomFilm {
  dicom::RadiographPlan plan;
  RadiographImage::Pointer image;
  [[nodiscard]] RadiographView view() const {
    return plan.view == "AP" ? RadiographView::AP : RadiographView::Lateral;
  }
};

/// The film in `file`, or nothing when it holds no DX image.
std::optional<PhantomFilm> loadPhantomFilm(const std::filesystem::path& file) {
  const dicom::ScanResult scan = dicom::scanDicom({file});
  if (scan.patients.empty() || scan.patients[0].studies[0].series[0].modality != "DX") {
    return std::nullopt;
  }
  PhantomFilm film;
  film.plan = dicom::planRadiograph(scan.patients[0].studies[0].series[0].instances[0]);
  film.image = dicom::loadRadiograph(film.plan);
  return film;
}

/// The analysis of a phantom film with its own view, orientation and side.
RadiographAnalysisResult analyzePhantomFilm(const PhantomFilm& film, const RadiographImage& image,
                                            const RadiographAnalysisParameters& parameters = {}) {
  return analyzeRadiographUnion(
      image, film.plan.pixelSpacingMm, film.view(), RadiographOrientation{film.plan.columnsToward},
      film.plan.laterality == "R" ? Laterality::Right : Laterality::Left, parameters);
}

/// The measures of the side of the film on `cortex` (none when the film
/// does not show it).
const RadiographSideResult* sideOf(const RadiographAnalysisResult& result, Cortex cortex) {
  const auto side = std::find_if(result.sides.begin(), result.sides.end(),
                                 [&](const RadiographSideResult& s) { return s.cortex == cortex; });
  return side != result.sides.end() ? &*side : nullptr;
}

} // namespace

TEST(RadiographAnalysis, AWindowedExportWithDimSoftTissueStillShowsTheWholeShaft) {
  // The soft tissue ends up much nearer the air than the bone, so one Otsu
  // level over the film falls between the bone and the rest. The body must
  // still reach the skin, or the top-hat takes the bone's own size and only
  // its rim is left.
  const auto image = windowedTubeRadiograph();
  const RadiographAnalysisResult result = analyzeRadiographUnion(
      *image, 0.2, RadiographView::AP, RadiographOrientation{'L'}, Laterality::Right);
  ASSERT_TRUE(result.boneFound) << (result.notes.empty() ? "" : result.notes.back());
  EXPECT_NEAR(result.shaftWidthMm, 22.0, 2.0);
  ASSERT_TRUE(result.fractureFound) << (result.notes.empty() ? "" : result.notes.back());
  for (const auto& end : result.fractureLine) {
    EXPECT_NEAR(end[1], 430.0, 4.0);
  }
}

TEST(RadiographAnalysis, APlateBarelyBrighterThanTheBoneIsFoundByItsShape) {
  // A plate (3 x 60 mm) 2 mm beside the cortex, saturated at the top of a
  // window where the bone reaches nearly as high: too dim for the
  // brightness test, but a long flat bar with a sharp border.
  const auto image = windowedTubeRadiograph();
  const auto size = image->GetLargestPossibleRegion().GetSize();
  const int columns = static_cast<int>(size[0]);
  const int firstColumn = columns / 2 + 65, lastColumn = firstColumn + 15; // 13-16 mm
  for (int r = 280; r < 580; ++r) {
    for (int c = firstColumn; c < lastColumn; ++c) {
      image->GetBufferPointer()[static_cast<std::size_t>(r) * columns + c] = 1.0F;
    }
  }
  const RadiographAnalysisResult found = analyzeRadiographUnion(
      *image, 0.2, RadiographView::AP, RadiographOrientation{'L'}, Laterality::Right);
  EXPECT_TRUE(found.metalPresent);
  ASSERT_TRUE(found.boneFound);
  // The plate is kept out of the bone: the shaft keeps its width and the
  // gap is still found.
  EXPECT_NEAR(found.shaftWidthMm, 22.0, 2.0);
  ASSERT_TRUE(found.fractureFound);
  for (const auto& end : found.fractureLine) {
    EXPECT_NEAR(end[1], 430.0, 4.0);
  }
  // By its shape alone: with the sharpness test out of reach it is not
  // taken for metal.
  RadiographAnalysisParameters noShapeTest;
  noShapeTest.implantMinSharpness = 2.0;
  const RadiographAnalysisResult missed = analyzeRadiographUnion(
      *image, 0.2, RadiographView::AP, RadiographOrientation{'L'}, Laterality::Right, noShapeTest);
  EXPECT_FALSE(missed.metalPresent);
}

TEST(RadiographAnalysis, ANailDimmerThanThePlateBesideItIsFoundByItsShape) {
  // A nail (9 mm) down the canal at 0.68 of the range set by a plate
  // beside the bone (the bone itself squeezed into 0.2-0.5), running into
  // a brighter, textured bone end (0.58-0.98): under the metal level, but a
  // long flat bar standing out of the bone around it. Left in, it would be
  // taken for the bone.
  const auto image = windowedTubeRadiograph();
  const auto size = image->GetLargestPossibleRegion().GetSize();
  const int columns = static_cast<int>(size[0]);
  float* pixels = image->GetBufferPointer();
  for (std::size_t i = 0; i < image->GetLargestPossibleRegion().GetNumberOfPixels(); ++i) {
    pixels[i] = pixels[i] <= 0.2F ? pixels[i] : 0.2F + 0.4F * (pixels[i] - 0.2F);
  }
  for (int r = 60; r < 130; ++r) {
    for (int c = columns / 2 - 60; c < columns / 2 + 60; ++c) {
      pixels[static_cast<std::size_t>(r) * columns + c] =
          static_cast<float>(0.78 + 0.1 * std::sin(1.3 * r) + 0.1 * std::sin(1.7 * c));
    }
  }
  for (int r = 100; r < 760; ++r) {
    for (int c = columns / 2 - 22; c < columns / 2 + 23; ++c) {
      pixels[static_cast<std::size_t>(r) * columns + c] = 0.68F;
    }
  }
  const int plateColumn = columns / 2 + 65;
  for (int r = 500; r < 700; ++r) {
    for (int c = plateColumn; c < plateColumn + 15; ++c) {
      pixels[static_cast<std::size_t>(r) * columns + c] = 1.0F;
    }
  }
  const auto nailIsMetal = [&](const RadiographAnalysisResult& result) {
    return metalMaskOf(result, {columns, static_cast<int>(size[1])})
               .at<std::uint8_t>(250, columns / 2) != 0;
  };
  const RadiographAnalysisResult found = analyzeRadiographUnion(
      *image, 0.2, RadiographView::AP, RadiographOrientation{'L'}, Laterality::Right);
  EXPECT_TRUE(nailIsMetal(found));
  ASSERT_TRUE(found.boneFound);
  EXPECT_NEAR(found.shaftWidthMm, 22.0, 2.0);
  // Found as a nail, not by its brightness: with the bone-beside test out
  // of reach it is not metal ...
  RadiographAnalysisParameters noNails;
  noNails.nailMinBoneBeside = 2.0;
  const RadiographAnalysisResult missed = analyzeRadiographUnion(
      *image, 0.2, RadiographView::AP, RadiographOrientation{'L'}, Laterality::Right, noNails);
  EXPECT_FALSE(nailIsMetal(missed));
  // ... and the nail (9 mm) is taken for the shaft, as on FracAtlas 4150.
  EXPECT_LT(missed.shaftWidthMm, 12.0);
}

TEST(RadiographAnalysis, AThinDenseShaftIsNotTakenForANail) {
  // A narrow tibia with a thick cortex projects as a long, flat, bright
  // bar, shaped like a nail at the lower candidate level; it has soft
  // tissue beside it, not bone.
  phantom::PatientSpec spec =
      phantom::makePatientSpec(300, phantom::Scenario::NormalHealing, phantom::Implant::None,
                               phantom::SizePreset::Default, {6});
  spec.tibiaRadiusMm = 8;
  test::TempDir dir;
  phantom::writePatient(spec, dir.path());
  const auto analyse = [&](const RadiographAnalysisParameters& p) {
    int withMetal = 0, films = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir.path())) {
      const std::optional<PhantomFilm> film = loadPhantomFilm(entry.path());
      if (!film) {
        continue;
      }
      const RadiographAnalysisResult result = analyzeRadiographUnion(
          *film->image, film->plan.pixelSpacingMm, film->view(), {}, Laterality::Unknown, p);
      ++films;
      withMetal += result.metalPresent ? 1 : 0;
    }
    EXPECT_GE(films, 2);
    return withMetal;
  };
  EXPECT_EQ(analyse({}), 0);
  // Without the bone-beside test the AP film's shaft is taken for a nail.
  RadiographAnalysisParameters noBoneBeside;
  noBoneBeside.nailMinBoneBeside = 0.0;
  EXPECT_GE(analyse(noBoneBeside), 1);
}

TEST(RadiographAnalysis, AnIntactTubeShowsNoFractureLine) {
  const auto image = test::makeTubeRadiograph(0.0);
  const RadiographAnalysisResult result = analyzeRadiographUnion(
      *image, 0.2, RadiographView::Lateral, RadiographOrientation{'P'}, Laterality::Left);
  ASSERT_TRUE(result.boneFound);
  EXPECT_FALSE(result.fractureFound)
      << result.fractureEvidence << " at " << result.fractureLine[0][1];
  EXPECT_EQ(result.sides[1].cortex, Cortex::Posterior);
  for (const RadiographSideResult& side : result.sides) {
    if (side.score.category) {
      EXPECT_TRUE(side.score.bridged()) << cortexKey(*side.cortex);
    }
  }
}

TEST(RadiographAnalysis, AFracturePlaneSteepOnOneViewIsNotedOnTheOther) {
  EXPECT_FALSE(obliqueToBeamNote(RadiographView::Lateral, 29.9).has_value());
  EXPECT_FALSE(obliqueToBeamNote(RadiographView::Lateral, std::nan("")).has_value());
  EXPECT_FALSE(obliqueToBeamNote(RadiographView::Unknown, 45.0).has_value());
  const std::optional<std::string> note = obliqueToBeamNote(RadiographView::Lateral, 34.4);
  ASSERT_TRUE(note.has_value());
  EXPECT_NE(note->find("lateral view"), std::string::npos) << *note;
  EXPECT_NE(note->find("34 degrees"), std::string::npos) << *note;
  RadiographAnalysisParameters stricter;
  stricter.obliqueToBeamNoteDeg = 40;
  EXPECT_FALSE(obliqueToBeamNote(RadiographView::AP, 34.4, stricter).has_value());
}

namespace {

/// A film's analysis with its two cortices scored `first` and `second`
/// (categories 1-4), its line `tiltDeg` off the cross-section.
RadiographAnalysisResult scoredFilm(Cortex a, int first, Cortex b, int second, double tiltDeg) {
  RadiographAnalysisResult film;
  film.boneFound = true;
  film.fractureFound = true;
  film.fractureTiltDeg = tiltDeg;
  film.sides[0].cortex = a;
  film.sides[1].cortex = b;
  film.cortices[static_cast<std::size_t>(a)].category = static_cast<CortexCategory>(first);
  film.cortices[static_cast<std::size_t>(b)].category = static_cast<CortexCategory>(second);
  film.scores = computeUnionScores(film.cortices);
  return film;
}

} // namespace

TEST(RadiographAnalysis, BridgingReadAcrossASteepCleftPlaneIsWithdrawn) {
  // The lateral view shows the plane 25 degrees off its cross-section and
  // both its cortices cleft: the AP view's bridged lateral cortex is the
  // smeared gap, its cleft medial cortex is kept.
  const RadiographAnalysisResult lateral =
      scoredFilm(Cortex::Anterior, 2, Cortex::Posterior, 1, 25.0);
  RadiographAnalysisResult ap = scoredFilm(Cortex::Medial, 2, Cortex::Lateral, 4, 3.0);
  ASSERT_TRUE(withdrawSmearedBridging(ap, RadiographView::Lateral, lateral));
  const CortexScore& withdrawn = ap.cortices[static_cast<std::size_t>(Cortex::Lateral)];
  EXPECT_FALSE(withdrawn.category.has_value());
  EXPECT_NE(withdrawn.notAssessable.find("lateral view"), std::string::npos);
  EXPECT_NE(withdrawn.notAssessable.find("25 degrees"), std::string::npos);
  EXPECT_EQ(ap.sides[1].score.notAssessable, withdrawn.notAssessable);
  EXPECT_EQ(ap.cortices[static_cast<std::size_t>(Cortex::Medial)].category,
            CortexCategory::CallusVisibleLine);
  EXPECT_EQ(ap.scores.assessedCortices, 1);

  // Not when the plane is under the threshold, when the other view calls a
  // cortex bridged or could not score one, or has no line.
  const RadiographAnalysisResult untouched = scoredFilm(Cortex::Medial, 2, Cortex::Lateral, 4, 3.0);
  for (const RadiographAnalysisResult& other :
       {scoredFilm(Cortex::Anterior, 2, Cortex::Posterior, 1, 19.0),
        scoredFilm(Cortex::Anterior, 2, Cortex::Posterior, 3, 25.0)}) {
    RadiographAnalysisResult film = untouched;
    EXPECT_FALSE(withdrawSmearedBridging(film, RadiographView::Lateral, other));
    EXPECT_TRUE(film.cortices[static_cast<std::size_t>(Cortex::Lateral)].category.has_value());
  }
  RadiographAnalysisResult unscored = scoredFilm(Cortex::Anterior, 2, Cortex::Posterior, 1, 25.0);
  unscored.cortices[static_cast<std::size_t>(Cortex::Posterior)].category.reset();
  RadiographAnalysisResult noLine = lateral;
  noLine.fractureFound = false;
  for (const RadiographAnalysisResult& other : {unscored, noLine}) {
    RadiographAnalysisResult film = untouched;
    EXPECT_FALSE(withdrawSmearedBridging(film, RadiographView::Lateral, other));
  }
}

TEST(RadiographAnalysis, CortexNamesFollowViewOrientationAndSide) {
  std::vector<std::string> notes;
  // AP, columns toward the patient's left: a left limb's medial side is the
  // patient's right, on the image's left.
  auto sides = cortexOfSides(RadiographView::AP, {'L'}, Laterality::Left, notes);
  EXPECT_EQ(sides[0], Cortex::Medial);
  EXPECT_EQ(sides[1], Cortex::Lateral);
  EXPECT_TRUE(notes.empty());
  // PA-like display (columns toward the right) flips it.
  sides = cortexOfSides(RadiographView::AP, {'R'}, Laterality::Left, notes);
  EXPECT_EQ(sides[1], Cortex::Medial);
  sides = cortexOfSides(RadiographView::Lateral, {'A'}, Laterality::Right, notes);
  EXPECT_EQ(sides[1], Cortex::Anterior);
  EXPECT_EQ(sides[0], Cortex::Posterior);
  // Unknown orientation and laterality are assumed, and said so.
  notes.clear();
  sides = cortexOfSides(RadiographView::AP, {}, Laterality::Unknown, notes);
  EXPECT_EQ(notes.size(), 2U);
  EXPECT_EQ(sides[1], Cortex::Medial);
  notes.clear();
  sides = cortexOfSides(RadiographView::Unknown, {}, Laterality::Right, notes);
  EXPECT_FALSE(sides[0].has_value());
  EXPECT_FALSE(sides[1].has_value());
  EXPECT_EQ(notes.size(), 1U);
}

TEST(RadiographAnalysis, BlankAndTinyImagesAreReportedNotCrashed) {
  auto blank = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize({{200, 200}});
  blank->SetRegions(region);
  blank->Allocate();
  blank->FillBuffer(0.3F);
  const RadiographAnalysisResult result =
      analyzeRadiographUnion(*blank, 0, RadiographView::AP, {}, Laterality::Unknown);
  EXPECT_FALSE(result.boneFound);
  EXPECT_FALSE(result.scores.union_.has_value());
  auto tiny = RadiographImage::New();
  region.SetSize({{8, 8}});
  tiny->SetRegions(region);
  tiny->Allocate();
  tiny->FillBuffer(0.5F);
  EXPECT_THROW(analyzeRadiographUnion(*tiny, 0, RadiographView::AP, {}, Laterality::Unknown),
               std::runtime_error);
}

TEST(RealRadiographs, FracAtlasRunsAndFindsTheFractureLine) {
  if (!std::filesystem::exists(kFracAtlas / "labels.csv")) {
    GTEST_SKIP() << "no " << kFracAtlas << " (realdata not present)";
  }
  const std::optional<std::filesystem::path> debug = debugDirectory();
  int shaftImages = 0, hits = 0, images = 0;
  int withHardware = 0, withoutHardware = 0, implantFound = 0, implantFalse = 0;
  std::vector<std::string> misses, implantMisses;
  for (const AtlasRow& row : atlasRows()) {
    const std::filesystem::path file = kFracAtlas / "images" / row.file;
    if (const char* only = std::getenv("US_ONLY_FILE");
        only != nullptr && row.file.find(only) == std::string::npos)
      continue;
    ++images;
    const dicom::PlainRadiograph radiograph = dicom::loadPlainRadiograph(file);
    RadiographAnalysisResult result;
    ASSERT_NO_THROW(
        result = analyzeRadiographUnion(*radiograph.image, 0, viewOf(row), {}, Laterality::Unknown))
        << row.file;
    if (debug) {
      writeRadiographOverlay(*radiograph.image, result, *debug / (row.file + ".png"));
    }
    // Implant detection against the data set's hardware label, on every
    // film (screws and plates on the foot and hand films count too).
    (row.hardware ? withHardware : withoutHardware) += 1;
    (row.hardware ? implantFound : implantFalse) += result.metalPresent ? 1 : 0;
    if (row.hardware != result.metalPresent) {
      implantMisses.push_back(row.file +
                              (row.hardware ? " (implant missed)" : " (metal reported)"));
    }
    if (!isLongBoneShaft(row)) {
      continue;
    }
    ++shaftImages;
    const std::string stem = row.file.substr(0, row.file.size() - 4);
    const bool hit = lineMeetsAnnotatedBox(result, stem);
    hits += hit ? 1 : 0;
    if (!hit) {
      misses.push_back(row.file + " (" + row.note + ")");
    }
  }
  const double rate = shaftImages > 0 ? static_cast<double>(hits) / shaftImages : 0.0;
  std::printf("FracAtlas: %d images ran; fracture line meets the box on %d of %d long-bone "
              "shaft images (%.3f)\n",
              images, hits, shaftImages, rate);
  for (const std::string& miss : misses) {
    std::printf("  missed: %s\n", miss.c_str());
  }
  std::printf("FracAtlas implants: found on %d of %d films with hardware, reported on %d of %d "
              "without\n",
              implantFound, withHardware, implantFalse, withoutHardware);
  for (const std::string& miss : implantMisses) {
    std::printf("  implant: %s\n", miss.c_str());
  }
  EXPECT_EQ(images, 45);
  EXPECT_GE(shaftImages, 30);
  // Regression guards at the level reached so far; issue 6 asks 0.70 for
  // the fracture line. 22 of 32 until the film's bottom band (seven films)
  // was taken for a collimator shutter: 1360, whose traced edges are not
  // the forearm's, had been met by a line that won by 4 percent. 22 again
  // once a plate ending where the search begins fixes the bone (2602), and
  // 23 (the issue's 0.70) once a nail the metal mask split is one implant
  // (0467).
  EXPECT_GE(rate, 0.71);
  EXPECT_EQ(withHardware, 16);
  // 8-bit exports leave plates and nails barely above the bone: found by
  // their shape, and one nail down the canal (15 of 16; by brightness
  // alone, 4; without the lower level for nails and the 1.8% texture
  // allowance, 12; without the canal, 14).
  EXPECT_GE(implantFound, 15);
  // What is still reported without hardware: the tarsus and condyles, the
  // film's bottom edge, a ring on a finger, and, since external fixators
  // are looked for, the bright strip between the two exposures of 0003
  // (the same film as 0005) (18 of 29; 16 before the fixator rule; 18
  // before the shape test and the limb test).
  EXPECT_LE(implantFalse, 18);
}

namespace {

struct RadiographTally {
  int confusion[4][4] = {}; ///< truth x measured
  /// Where the line is within 3 mm: |measured - true| angle to the shaft's
  /// cross-section, degrees.
  std::vector<double> tiltErrorsDeg;
  int cortices = 0, agree = 0, notAssessable = 0, obscuredRight = 0;
  int visits = 0, unionAgree = 0;
  int linesNearTruth = 0, radiographs = 0;
  int scoredWhereLineRight = 0, agreeWhereLineRight = 0;
  int scoredWithoutImplant = 0, agreeWithoutImplant = 0;
  /// Metal against the phantom's truth, in pixels of the original films:
  /// truth (shrunk by 1 mm) and how much of it was found; found and how
  /// much of it lies on the truth (grown by 1 mm).
  long long metalTruth = 0, metalTruthFound = 0, metalFound = 0, metalFoundTrue = 0;
};

/// Adds one film's metal to the tally; returns its (recall, precision).
std::pair<double, double> tallyMetal(const cv::Mat& truth, const cv::Mat& found, double pixelMm,
                                     RadiographTally& tally) {
  const int r = std::max(1, static_cast<int>(std::lround(1.0 / pixelMm)));
  const cv::Mat element = cv::getStructuringElement(cv::MORPH_ELLIPSE, {2 * r + 1, 2 * r + 1});
  cv::Mat core, grown;
  cv::erode(truth, core, element);
  cv::dilate(truth, grown, element);
  const long long coreCount = cv::countNonZero(core);
  const long long coreFound = cv::countNonZero(core & found);
  const long long foundCount = cv::countNonZero(found);
  const long long foundTrue = cv::countNonZero(found & grown);
  tally.metalTruth += coreCount;
  tally.metalTruthFound += coreFound;
  tally.metalFound += foundCount;
  tally.metalFoundTrue += foundTrue;
  return {coreCount > 0 ? static_cast<double>(coreFound) / coreCount : 1.0,
          foundCount > 0 ? static_cast<double>(foundTrue) / foundCount : 1.0};
}

/// How far (pixels, along the shaft) the detected line passes from the
/// truth's two cortex points.
double lineDistance(const std::array<std::array<double, 2>, 2>& a, const nlohmann::json& truth) {
  std::array<std::array<double, 2>, 2> t{};
  for (std::size_t i = 0; i < 2; ++i) {
    t[i] = {truth[i][0].get<double>(), truth[i][1].get<double>()};
  }
  if (t[0][0] > t[1][0]) {
    std::swap(t[0], t[1]);
  }
  auto b = a;
  if (b[0][0] > b[1][0]) {
    std::swap(b[0], b[1]);
  }
  // Vertical distance at the truth's end points (the shaft runs along rows).
  const auto rowAt = [&](double x) {
    const double dx = b[1][0] - b[0][0];
    return std::abs(dx) < 1e-6 ? b[0][1] : b[0][1] + (x - b[0][0]) * (b[1][1] - b[0][1]) / dx;
  };
  return 0.5 * (std::abs(rowAt(t[0][0]) - t[0][1]) + std::abs(rowAt(t[1][0]) - t[1][1]));
}

/// The truth's fracture line's angle to the cross-section of the shaft the
/// analysis found, degrees.
double tiltToAxisDeg(const nlohmann::json& line, const RadiographAnalysisResult& result) {
  const double ax = result.shaftAxis[1][0] - result.shaftAxis[0][0];
  const double ay = result.shaftAxis[1][1] - result.shaftAxis[0][1];
  const double lx = line[1][0].get<double>() - line[0][0].get<double>();
  const double ly = line[1][1].get<double>() - line[0][1].get<double>();
  const double along = std::abs(ax * lx + ay * ly) / (std::hypot(ax, ay) * std::hypot(lx, ly));
  return std::asin(std::min(1.0, along)) * 180.0 / M_PI;
}

/// A DX film of a phantom visit with its truth.json series entry and its
/// metal truth mask.
struct FilmWithTruth {
  nlohmann::json truth;
  PhantomFilm film;
  cv::Mat metalTruth;
};

/// How far (mm, along the shaft) the detected line passes from the film's
/// true one.
double lineErrorMm(const RadiographAnalysisResult& result, const FilmWithTruth& film) {
  return lineDistance(result.fractureLine, film.truth["fracture_line"]) *
         film.film.plan.pixelSpacingMm;
}

/// One visit of a phantom patient: its label (W6, ...) and its DX films.
struct PhantomVisit {
  std::string label;
  std::vector<FilmWithTruth> films;
};

/// Every visit of the patient `spec`, written once and read back through
/// the DICOM ingest.
std::vector<PhantomVisit> phantomVisits(const phantom::PatientSpec& spec) {
  test::TempDir dir;
  phantom::writePatient(spec, dir.path());
  std::ifstream in(dir.path() / "truth.json");
  const nlohmann::json truth = nlohmann::json::parse(in);
  std::vector<PhantomVisit> visits;
  for (const nlohmann::json& timepoint : truth["timepoints"]) {
    PhantomVisit& visit = visits.emplace_back();
    visit.label = timepoint["label"].get<std::string>();
    for (const nlohmann::json& series : timepoint["series"]) {
      if (series["modality"] != "DX") {
        continue;
      }
      std::optional<PhantomFilm> film =
          loadPhantomFilm(dir.path() / series["source_files"][0].get<std::string>());
      if (!film) {
        ADD_FAILURE() << "no DX image in " << series["source_files"][0];
        continue;
      }
      visit.films.push_back(
          {series, std::move(*film),
           cv::imread((dir.path() / series["metal_mask"].get<std::string>()).string(),
                      cv::IMREAD_GRAYSCALE)});
    }
    EXPECT_EQ(visit.films.size(), 2U) << visit.label;
  }
  return visits;
}

void evaluatePhantomRadiographs(const phantom::PatientSpec& spec, RadiographTally& tally,
                                bool verbose, const RadiographAnalysisParameters& parameters) {
  const std::optional<std::filesystem::path> debug = debugDirectory();
  for (const PhantomVisit& visit : phantomVisits(spec)) {
    CortexScores combined;
    CortexScores truthScores;
    // The visit's films analysed first, then read together as `analyze`
    // reads them (withdrawSmearedBridging), then scored.
    std::vector<RadiographAnalysisResult> results;
    std::vector<std::pair<RadiographView, RadiographAnalysisResult*>> views;
    for (const FilmWithTruth& film : visit.films) {
      results.push_back(analyzePhantomFilm(film.film, *film.film.image, parameters));
    }
    for (std::size_t f = 0; f < visit.films.size(); ++f) {
      views.emplace_back(visit.films[f].film.view(), &results[f]);
    }
    withdrawSmearedBridgingInVisit(views);
    for (std::size_t f = 0; f < visit.films.size(); ++f) {
      const nlohmann::json& series = visit.films[f].truth;
      const PhantomFilm& film = visit.films[f].film;
      const dicom::RadiographPlan& plan = film.plan;
      const RadiographImage& image = *film.image;
      const RadiographAnalysisResult& result = results[f];
      if (debug) {
        writeRadiographOverlay(
            image, result,
            *debug / fmt::format("phantom{}_{}_{}.png", spec.seed, visit.label, plan.view));
      }
      ++tally.radiographs;
      const cv::Mat& metalTruth = visit.films[f].metalTruth;
      ASSERT_FALSE(metalTruth.empty()) << series["metal_mask"];
      const auto [metalRecall, metalPrecision] = tallyMetal(
          metalTruth, metalMaskOf(result, metalTruth.size()), plan.pixelSpacingMm, tally);
      const double lineErrorOfFilmMm =
          result.fractureFound ? lineErrorMm(result, visit.films[f]) : 1e9;
      tally.linesNearTruth += lineErrorOfFilmMm <= 3.0 ? 1 : 0;
      if (lineErrorOfFilmMm <= 3.0) {
        tally.tiltErrorsDeg.push_back(
            std::abs(result.fractureTiltDeg - tiltToAxisDeg(series["fracture_line"], result)));
      }
      if (verbose) {
        std::printf("  seed %llu %s/%s %s %s: fracture line %.1f mm from truth; metal found "
                    "%.2f of the truth, %.2f of it true\n",
                    static_cast<unsigned long long>(spec.seed),
                    std::string(phantom::scenarioName(spec.scenario)).c_str(),
                    std::string(phantom::implantName(spec.implant)).c_str(), visit.label.c_str(),
                    plan.view.c_str(), lineErrorOfFilmMm, metalRecall, metalPrecision);
      }
      for (const auto& [key, expected] : series["cortices"].items()) {
        const Cortex cortex = *cortexFromKey(key);
        const auto c = static_cast<std::size_t>(cortex);
        const CortexScore& got = result.cortices[c];
        const auto t = static_cast<CortexCategory>(expected["category"].get<int>());
        truthScores[c].category = t;
        combined[c] = got;
        ++tally.cortices;
        const bool obscured = expected.value("obscured_by_implant", false);
        if (!got.category) {
          ++tally.notAssessable;
          tally.obscuredRight += obscured ? 1 : 0;
          if (verbose) {
            std::printf("  seed %llu %s %s %s: truth %d, not assessable (%s)%s\n",
                        static_cast<unsigned long long>(spec.seed), visit.label.c_str(),
                        plan.view.c_str(), key.c_str(), static_cast<int>(t),
                        got.notAssessable.c_str(), obscured ? " [obscured in truth]" : "");
          }
          continue;
        }
        const int ti = static_cast<int>(t) - 1;
        const int mi = static_cast<int>(*got.category) - 1;
        tally.confusion[ti][mi]++;
        tally.agree += ti == mi ? 1 : 0;
        if (spec.implant == phantom::Implant::None) {
          ++tally.scoredWithoutImplant;
          tally.agreeWithoutImplant += ti == mi ? 1 : 0;
        }
        if (lineErrorOfFilmMm <= 3.0) {
          ++tally.scoredWhereLineRight;
          tally.agreeWhereLineRight += ti == mi ? 1 : 0;
        }
        const RadiographSideResult* side = sideOf(result, cortex);
        if (verbose && side != nullptr &&
            (ti != mi || std::getenv("UNIONSCOPE_PRINT_ALL") != nullptr)) {
          std::printf("  seed %llu %s/%s %s %s %s: truth %d measured %d (bridging %.2f, line "
                      "%.2f, callus %.3f, metal %.2f, collar %.2f gap %.2f)\n",
                      static_cast<unsigned long long>(spec.seed),
                      std::string(phantom::scenarioName(spec.scenario)).c_str(),
                      std::string(phantom::implantName(spec.implant)).c_str(), visit.label.c_str(),
                      plan.view.c_str(), key.c_str(), ti + 1, mi + 1, side->bridgingContrast,
                      side->lineContrast, side->callusThickness, side->metalCover,
                      side->collarContrast, side->collarAtGapContrast);
        }
      }
    }
    ++tally.visits;
    const bool truthUnion = computeUnionScores(truthScores).union_.value_or(false);
    const std::optional<bool> measured = computeUnionScores(combined).union_;
    tally.unionAgree += measured.has_value() && *measured == truthUnion ? 1 : 0;
    if (verbose && !(measured.has_value() && *measured == truthUnion)) {
      std::printf("  seed %llu %s: union truth %s, measured %s\n",
                  static_cast<unsigned long long>(spec.seed), visit.label.c_str(),
                  truthUnion ? "yes" : "no", measured ? (*measured ? "yes" : "no") : "undecided");
    }
  }
}

/// A patient of the phantom cohort: both photometric interpretations, on
/// alternate seeds; `vary` changes its geometry (when given).
phantom::PatientSpec cohortPatient(std::uint64_t seed, phantom::Scenario scenario,
                                   phantom::Implant implant,
                                   const std::function<void(phantom::PatientSpec&)>& vary) {
  phantom::PatientSpec spec =
      phantom::makePatientSpec(seed, scenario, implant, phantom::SizePreset::Default);
  spec.monochrome1 = seed % 2 == 1;
  if (vary) {
    vary(spec);
  }
  return spec;
}

/// The 15-patient phantom cohort (five scenarios, each with no implant, a
/// nail and a plate; both photometric interpretations), with `vary`
/// changing each patient's geometry. Seeds 300-314.
RadiographTally evaluatePhantomCohort(const std::function<void(phantom::PatientSpec&)>& vary,
                                      bool verbose,
                                      const RadiographAnalysisParameters& parameters = {}) {
  RadiographTally tally;
  const phantom::Scenario scenarios[] = {
      phantom::Scenario::NormalHealing, phantom::Scenario::DelayedUnion,
      phantom::Scenario::AtrophicNonunion, phantom::Scenario::HypertrophicNonunion,
      phantom::Scenario::PartialBridging};
  std::uint64_t seed = 300;
  for (const phantom::Scenario scenario : scenarios) {
    for (const phantom::Implant implant :
         {phantom::Implant::None, phantom::Implant::Nail, phantom::Implant::Plate}) {
      const phantom::PatientSpec spec = cohortPatient(seed, scenario, implant, vary);
      ++seed;
      // UNIONSCOPE_ONLY_SEED=N looks at one patient (debugging; the guards then fail).
      if (const char* only = std::getenv("UNIONSCOPE_ONLY_SEED");
          only != nullptr && std::to_string(spec.seed) != only) {
        continue;
      }
      evaluatePhantomRadiographs(spec, tally, verbose, parameters);
    }
  }
  return tally;
}

double shareOf(int part, int whole) {
  return whole > 0 ? static_cast<double>(part) / whole : 0.0;
}

double agreementOf(const RadiographTally& tally) {
  return shareOf(tally.agree, tally.cortices - tally.notAssessable);
}

double unionAgreementOf(const RadiographTally& tally) {
  return shareOf(tally.unionAgree, tally.visits);
}

/// Share of the true metal found, and share of what was found that is true.
double metalRecallOf(const RadiographTally& tally) {
  return tally.metalTruth > 0 ? static_cast<double>(tally.metalTruthFound) / tally.metalTruth : 1.0;
}
double metalPrecisionOf(const RadiographTally& tally) {
  return tally.metalFound > 0 ? static_cast<double>(tally.metalFoundTrue) / tally.metalFound : 1.0;
}

} // namespace

namespace {

/// `pixels` (CV_32F) as a film with `like`'s pixel spacing.
RadiographImage::Pointer radiographOf(const cv::Mat& pixels, const RadiographImage& like) {
  auto out = RadiographImage::New();
  RadiographImage::RegionType region;
  region.SetSize({{static_cast<itk::SizeValueType>(pixels.cols),
                   static_cast<itk::SizeValueType>(pixels.rows)}});
  out->SetRegions(region);
  out->SetSpacing(like.GetSpacing());
  out->Allocate();
  cv::Mat target(pixels.rows, pixels.cols, CV_32F, out->GetBufferPointer());
  pixels.copyTo(target); // same size and type: into the image's buffer
  return out;
}

/// `image`'s pixels, shared, as an OpenCV matrix.
cv::Mat pixelsOf(const RadiographImage& image) {
  const auto size = image.GetLargestPossibleRegion().GetSize();
  return {static_cast<int>(size[1]), static_cast<int>(size[0]), CV_32F,
          const_cast<float*>(image.GetBufferPointer())};
}

/// Rows [first, first + count) of `image`: the same film collimated along
/// the shaft.
RadiographImage::Pointer rowsOf(const RadiographImage& image, int first, int count) {
  return radiographOf(pixelsOf(image).rowRange(first, first + count), image);
}

/// The note a film with collimator shutters gets.
constexpr const char* kShutterNote = "collimator shutters along the film's edges left out";

/// A collimator shutter's level `beyond` pixels past its blade's edge:
/// unexposed film (white), less the scatter that falls off toward the
/// blade over 8 mm (to 0.65 at the edge).
float shutterLevel(double beyond, double mm) {
  return static_cast<float>(1.0 - 0.35 * std::max(0.0, 1.0 - beyond / (8 * mm)));
}

/// The films of the visit labelled `label` (none when there is no such
/// visit).
const std::vector<FilmWithTruth>& filmsOf(const std::vector<PhantomVisit>& visits,
                                          const std::string& label) {
  static const std::vector<FilmWithTruth> none;
  const auto visit = std::find_if(visits.begin(), visits.end(),
                                  [&](const PhantomVisit& v) { return v.label == label; });
  return visit != visits.end() ? visit->films : none;
}

/// The two films (AP, then lateral) of the visit `weeks` after the injury
/// of the patient `spec`.
std::vector<FilmWithTruth> visitFilms(const phantom::PatientSpec& spec, double weeks) {
  const auto visit = std::find_if(spec.visits.begin(), spec.visits.end(),
                                  [&](const phantom::VisitPlan& v) { return v.weeks == weeks; });
  if (visit == spec.visits.end()) {
    ADD_FAILURE() << "no visit at " << weeks << " weeks";
    return {};
  }
  std::vector<PhantomVisit> visits = phantomVisits(spec);
  return std::move(visits[static_cast<std::size_t>(visit - spec.visits.begin())].films);
}

/// The two films (AP, then lateral) of a one-visit phantom, `weeks` after
/// the injury.
std::vector<FilmWithTruth> phantomVisitFilms(std::uint64_t seed, phantom::Scenario scenario,
                                             phantom::Implant implant, double weeks) {
  phantom::PatientSpec spec =
      phantom::makePatientSpec(seed, scenario, implant, phantom::SizePreset::Default, {weeks});
  spec.monochrome1 = false;
  return visitFilms(spec, weeks);
}

/// The two films of a visit of a patient of the phantom cohort
/// (evaluatePhantomCohort, with `vary` as one of its variants): the same
/// visits, noise and photometric interpretation.
std::vector<FilmWithTruth>
cohortVisitFilms(std::uint64_t seed, phantom::Scenario scenario, phantom::Implant implant,
                 double weeks, const std::function<void(phantom::PatientSpec&)>& vary = {}) {
  return visitFilms(cohortPatient(seed, scenario, implant, vary), weeks);
}

/// Analyses a phantom film and expects its fracture line found within 3 mm
/// of the truth.
RadiographAnalysisResult analyzedWithLineNearTruth(const FilmWithTruth& film) {
  RadiographAnalysisResult result = analyzePhantomFilm(film.film, *film.film.image);
  EXPECT_TRUE(result.fractureFound) << (result.notes.empty() ? "" : result.notes.back());
  if (result.fractureFound) {
    EXPECT_LE(lineErrorMm(result, film), 3.0);
  }
  return result;
}

/// The variant with the fracture plane at 45 degrees to the shaft's
/// cross-section (the generator draws 25-40).
void obliqueAt45Degrees(phantom::PatientSpec& spec) {
  spec.fracture = phantom::FractureType::Oblique;
  spec.fractureObliquityDeg = 45;
}

/// One view's film of such a visit (throws when the visit has no such film).
FilmWithTruth cohortFilm(std::uint64_t seed, phantom::Scenario scenario, phantom::Implant implant,
                         double weeks, RadiographView view,
                         const std::function<void(phantom::PatientSpec&)>& vary = {}) {
  for (FilmWithTruth& film : cohortVisitFilms(seed, scenario, implant, weeks, vary)) {
    if (film.film.view() == view) {
      return std::move(film);
    }
  }
  throw std::runtime_error("phantom " + std::to_string(seed) + " has no such film at " +
                           std::to_string(weeks) + " weeks");
}

/// The two films of phantom 300's 12-week visit: normal healing, a callus
/// collar on every cortex, no implant.
std::vector<FilmWithTruth> healingPhantomFilms() {
  return phantomVisitFilms(300, phantom::Scenario::NormalHealing, phantom::Implant::None, 12);
}

/// Expects the film's metal found (0.9 of the truth, 0.95 of what was found
/// true) and its fracture line within 3 mm of the truth.
void expectMetalAndLineFound(const FilmWithTruth& film, const RadiographAnalysisResult& result) {
  ASSERT_FALSE(film.metalTruth.empty());
  RadiographTally tally;
  const auto [recall, precision] =
      tallyMetal(film.metalTruth, metalMaskOf(result, film.metalTruth.size()),
                 film.film.plan.pixelSpacingMm, tally);
  EXPECT_GE(recall, 0.9);
  EXPECT_GE(precision, 0.95);
  ASSERT_TRUE(result.fractureFound);
  EXPECT_LE(lineErrorMm(result, film), 3.0);
}

} // namespace

TEST(RadiographAnalysis, TheCortexNotchAtAGapIsSearchedForTheLine) {
  // Phantom 304 at 6 weeks, AP: a delayed union with a nail. The traced
  // edges dive into the notch the gap leaves in each cortex, and beside the
  // nail the cortices are all the bone the line can show on: searched
  // across each row's own traced span, the line was found 37 mm away, at a
  // locking screw.
  const std::vector<FilmWithTruth> films =
      phantomVisitFilms(304, phantom::Scenario::DelayedUnion, phantom::Implant::Nail, 6);
  ASSERT_FALSE(films.empty());
  const FilmWithTruth& ap = films.front();
  ASSERT_EQ(ap.film.view(), RadiographView::AP);
  analyzedWithLineNearTruth(ap);
}

TEST(RadiographAnalysis, APlateSeenEnFaceKeepsItsScrewsAndLetsTheCortexThrough) {
  // Phantom 302 at 24 weeks, lateral film: the medial plate is seen en face,
  // only 0.1-0.15 of the range brighter than the bone, and the screw head
  // beside the fracture joins it in one candidate whose median fails the
  // metal level. That screw was lost with it (0.20 of the metal found), and
  // the line was drawn 11.6 mm off, through the unmarked screw.
  const std::vector<FilmWithTruth> films =
      phantomVisitFilms(302, phantom::Scenario::NormalHealing, phantom::Implant::Plate, 24);
  ASSERT_EQ(films.size(), 2U);
  const FilmWithTruth& lateral = films.back();
  ASSERT_EQ(lateral.film.view(), RadiographView::Lateral);
  const RadiographAnalysisResult result = analyzePhantomFilm(lateral.film, *lateral.film.image);
  expectMetalAndLineFound(lateral, result);
  ASSERT_TRUE(result.fractureFound);
  // The plate lies over part of the posterior cortex, but the film shows it
  // well below the screws' saturation and the cortex's profile through it:
  // both cortices are scored (truth: category 4, bridged), none called
  // hidden by the implant.
  for (Cortex cortex : {Cortex::Anterior, Cortex::Posterior}) {
    const CortexScore& score = result.cortices[static_cast<std::size_t>(cortex)];
    ASSERT_TRUE(score.category.has_value()) << cortexKey(cortex) << ": " << score.notAssessable;
    EXPECT_TRUE(score.bridged()) << cortexKey(cortex);
  }
}

TEST(RadiographAnalysis, APlateSeenEnFaceOverAThinWalledShaftIsFound) {
  // Phantom 311 of the thin-cortex variant (2.5 mm walls) at 12 weeks,
  // lateral film: a hypertrophic nonunion under a plate seen en face. The
  // ring around the plate is bone, and the plate stands only 0.08-0.11 of
  // the range above it, under the 0.12 asked of metal with soft tissue
  // around it: no metal was found, and the line was drawn 20 mm off,
  // across the plate's holes.
  const FilmWithTruth lateral = cohortFilm(
      311, phantom::Scenario::HypertrophicNonunion, phantom::Implant::Plate, 12,
      RadiographView::Lateral, [](phantom::PatientSpec& s) { s.cortexThicknessMm = 2.5; });
  expectMetalAndLineFound(lateral, analyzePhantomFilm(lateral.film, *lateral.film.image));
}

TEST(RadiographAnalysis, AThinWalledShaftIsTakenWholeNotAsOneWall) {
  // Phantom 300 of the thin-cortex variant (2.5 mm walls) at 12 weeks, AP
  // film: normal healing, no implant. The canal between the thin walls
  // stands little above soft tissue and split the bone mask in two, and
  // one wall with its callus was taken for the shaft (8 mm of its 23.7 mm,
  // 0.11 of the limb's width): its lateral cortex read remodelled (truth
  // 3, bridging callus).
  const phantom::PatientSpec spec =
      cohortPatient(300, phantom::Scenario::NormalHealing, phantom::Implant::None,
                    [](phantom::PatientSpec& s) { s.cortexThicknessMm = 2.5; });
  const std::vector<FilmWithTruth> films = visitFilms(spec, 12);
  ASSERT_EQ(films.size(), 2U);
  const FilmWithTruth& ap = films.front();
  ASSERT_EQ(ap.film.view(), RadiographView::AP);
  const RadiographAnalysisResult result = analyzePhantomFilm(ap.film, *ap.film.image);
  ASSERT_TRUE(result.boneFound);
  const double diameterMm = 2.0 * spec.tibiaRadiusMm;
  EXPECT_NEAR(result.shaftWidthMm, diameterMm, 0.15 * diameterMm);
  ASSERT_TRUE(result.fractureFound);
  for (Cortex cortex : {Cortex::Medial, Cortex::Lateral}) {
    const CortexScore& score = result.cortices[static_cast<std::size_t>(cortex)];
    ASSERT_TRUE(score.category.has_value()) << cortexKey(cortex) << ": " << score.notAssessable;
    EXPECT_EQ(static_cast<int>(*score.category),
              ap.truth["cortices"][cortexKey(cortex)]["category"].get<int>())
        << cortexKey(cortex);
  }
}

TEST(RadiographAnalysis, AFaintLineBesideANailIsScoredNotLeftUnassessed) {
  // Phantom 307 at 6 weeks, AP film: an atrophic nonunion with a nail. The
  // nail fills the canal, the line shows only on the two cortices beside
  // it, and its evidence stays under 0.08 of the cortex's contrast, with
  // other faint responses along the shaft. Asked to stand alone as well,
  // it was not reported, and both cortices were not assessable.
  const FilmWithTruth ap = cohortFilm(307, phantom::Scenario::AtrophicNonunion,
                                      phantom::Implant::Nail, 6, RadiographView::AP);
  const RadiographAnalysisResult result = analyzePhantomFilm(ap.film, *ap.film.image);
  ASSERT_TRUE(result.fractureFound) << (result.notes.empty() ? "" : result.notes.back());
  EXPECT_LT(result.fractureEvidence, 0.08);
  EXPECT_LE(lineErrorMm(result, ap), 3.0);
  const CortexScore& medial = result.cortices[static_cast<std::size_t>(Cortex::Medial)];
  ASSERT_TRUE(medial.category.has_value()) << medial.notAssessable;
  EXPECT_EQ(*medial.category, CortexCategory::NoCallus);
}

TEST(RadiographAnalysis, TheLineIsNotTakenFromScrewsTheMetalMaskMissed) {
  // Phantom 307 at 12 weeks, AP film: an atrophic nonunion with a nail. The
  // locking screws across the shaft are partly missed by the metal mask;
  // their unmasked remnants, denser than any cortex, made the strongest
  // "line" 37 mm from the fracture. Pixels that dense hide the line like
  // metal does.
  const FilmWithTruth ap = cohortFilm(307, phantom::Scenario::AtrophicNonunion,
                                      phantom::Implant::Nail, 12, RadiographView::AP);
  analyzedWithLineNearTruth(ap);
}

namespace {

/// One FracAtlas film (`name` without its extension) analysed as the
/// atlas-wide test analyses it; `hit` says whether its line meets a box.
struct AtlasFilmResult {
  RadiographAnalysisResult result;
  bool hit = false;
};

AtlasFilmResult analyzeAtlasFilm(const std::string& name,
                                 const RadiographAnalysisParameters& p = {}) {
  const auto rows = atlasRows();
  const auto row = std::find_if(rows.begin(), rows.end(),
                                [&](const AtlasRow& r) { return r.file == name + ".jpg"; });
  if (row == rows.end()) {
    throw std::runtime_error(name + " is not in labels.csv");
  }
  const dicom::PlainRadiograph radiograph =
      dicom::loadPlainRadiograph(kFracAtlas / "images" / row->file);
  AtlasFilmResult out;
  out.result =
      analyzeRadiographUnion(*radiograph.image, 0, viewOf(*row), {}, Laterality::Unknown, p);
  out.hit = lineMeetsAnnotatedBox(out.result, name);
  return out;
}

/// Single FracAtlas films: skipped without realdata.
class FracAtlasFilm : public ::testing::Test {
protected:
  void SetUp() override {
    if (!std::filesystem::exists(kFracAtlas / "labels.csv")) {
      GTEST_SKIP() << "no " << kFracAtlas << " (realdata not present)";
    }
  }
};

/// A film with an implant: the implant is found, a line is reported, and
/// it meets the annotated box.
AtlasFilmResult expectImplantFilmLineInBox(const std::string& name) {
  SCOPED_TRACE(name);
  const AtlasFilmResult film = analyzeAtlasFilm(name);
  EXPECT_TRUE(film.result.metalPresent);
  EXPECT_TRUE(film.result.fractureFound)
      << (film.result.notes.empty() ? "" : film.result.notes.back());
  EXPECT_TRUE(film.hit);
  return film;
}

} // namespace

TEST_F(FracAtlasFilm, TheLineIsLookedForWhereTheNailHoldsTheBone) {
  // FracAtlas 4150, a lateral distal tibia with a nail and a plate. The
  // nail and the screws widen the bone mask, so the shaft as the mask's
  // width finds it stops above the fracture, and no line was found at all.
  // An implant fixing the bone spans its fracture: the search reaches as
  // far as the implant holds the bone.
  expectImplantFilmLineInBox("IMG0004150");
}

TEST_F(FracAtlasFilm, AFaintLineWhereTheNailHoldsTheBoneIsTheFracture) {
  // FracAtlas 2791, a lateral distal tibia with a nail: the strongest line
  // evidence lies inside the fracture's box, where the nail holds the bone,
  // but under the minimum a line needs elsewhere on the shaft
  // (fractureMinEvidence), and no line was reported. The fracture a nail
  // fixes is known to lie along it: less evidence finds it there.
  const AtlasFilmResult film = expectImplantFilmLineInBox("IMG0002791");
  EXPECT_LT(film.result.fractureEvidence, RadiographAnalysisParameters{}.fractureMinEvidence);
}

TEST_F(FracAtlasFilm, NoLineIsTakenBeyondWhereTheImplantHoldsTheBone) {
  // FracAtlas 0466, an AP femur with a nail: the knee's joint line, below
  // the distal locking screws, beat the shaft's fracture. FracAtlas 3338,
  // an AP distal tibia with a plate and a nail: the plate's upper end beat
  // the fracture in its middle. A fracture an implant fixes lies where the
  // implant holds the bone, not beyond.
  for (const char* name : {"IMG0000466", "IMG0003338"}) {
    expectImplantFilmLineInBox(name);
  }
}

TEST_F(FracAtlasFilm, TheBoneAPlateFixesIsTheBoneOfInterest) {
  // FracAtlas 1971, a lateral forearm with a plate: closed, the two bones
  // and the plate make one component, and its axis was refined onto the
  // bone beside the plate (the line was found at the wrist). The bone an
  // implant fixes is the one of interest.
  expectImplantFilmLineInBox("IMG0001971");
}

TEST_F(FracAtlasFilm, APlateEndingWhereTheSearchBeginsFixesTheBone) {
  // FracAtlas 2602, an AP forearm plated over the fracture (the box, rows
  // 83-151, beside the plate's lower half). Plate and bone widen the bone
  // mask past the diaphysis' limit, so the searched rows began just below
  // the plate (row 171), which then reached too few of them to count as
  // fixing the bone: the line was taken at row 184, below the plate. A
  // plate ending within a shaft width of the search still fixes the bone,
  // and the search runs on along it.
  const AtlasFilmResult film = expectImplantFilmLineInBox("IMG0002602");
  EXPECT_LT(0.5 * (film.result.fractureLine[0][1] + film.result.fractureLine[1][1]), 160);
}

TEST_F(FracAtlasFilm, ANailTheMetalMaskSplitsIsOneImplant) {
  // FracAtlas 0467, a lateral femur with a nail; the fracture (two boxes,
  // rows 96-151) lies near where the femur, faint under the thigh, begins
  // to be traced. The metal mask split the nail at row 128, inside the
  // box, and the piece above, cut off by the traced strip's start, was
  // too short to count as fixing the bone: the piece below put its end zone
  // over the fracture, and no line was found where the nail holds the bone.
  // Pieces that continue one another across a seam of a few rows are one
  // implant.
  const AtlasFilmResult film = expectImplantFilmLineInBox("IMG0000467");
  EXPECT_LT(std::min(film.result.fractureLine[0][1], film.result.fractureLine[1][1]), 151);
  // With the seam left open, no line is found in the box.
  RadiographAnalysisParameters seamLeftOpen;
  seamLeftOpen.implantSeamMaxPixels = 0;
  EXPECT_FALSE(analyzeAtlasFilm("IMG0000467", seamLeftOpen).hit);
}

TEST_F(FracAtlasFilm, TheSearchFollowsAFaintMetaphysisButNotIntoTheJoint) {
  // FracAtlas 0845, a lateral forearm: the distal radius' metaphysis stands
  // too little above the soft tissue for the bone mask, whose width breaks
  // up above the fracture, so the search ended there. The faint bone
  // connected to the bone carries it on. FracAtlas 2453, an AP distal
  // tibia: the faint bone runs on through the ankle into the talus; held
  // to twice its shaft's width, it stops short of the joint line, which
  // would beat the fracture.
  for (const char* name : {"IMG0000845", "IMG0002453"}) {
    SCOPED_TRACE(name);
    const AtlasFilmResult film = analyzeAtlasFilm(name);
    EXPECT_TRUE(film.result.fractureFound);
    EXPECT_TRUE(film.hit);
  }
  // Without the faint bone, 0845's line is not found in its box.
  RadiographAnalysisParameters withoutFaintBone;
  withoutFaintBone.faintBoneFlareFactor = 0;
  EXPECT_FALSE(analyzeAtlasFilm("IMG0000845", withoutFaintBone).hit);
  // Held only to the bone mask's flare, it reaches 2453's joint line.
  RadiographAnalysisParameters looser;
  looser.faintBoneFlareFactor = looser.metaphysisFlareFactor;
  EXPECT_FALSE(analyzeAtlasFilm("IMG0002453", looser).hit);
}

TEST_F(FracAtlasFilm, ANailTheMetalLevelsMissIsFoundDownTheCanal) {
  // FracAtlas 0467, a lateral femur with a nail, in a thigh thick enough
  // that its soft tissue reaches the metal level: the nail's candidate
  // joined it and the film's edges, and at the lower level the knee. The
  // nail was missed, and the line was taken at the condyles (confidence
  // 0.43), 150 pixels below the fracture. Down the traced shaft's middle
  // it stands flat above the cortices.
  const auto metalAt = [](const RadiographAnalysisResult& result, int x, int y) {
    return metalMaskOf(result, {373, 454}).at<std::uint8_t>(y, x) != 0;
  };
  const AtlasFilmResult found = analyzeAtlasFilm("IMG0000467");
  EXPECT_TRUE(found.result.metalPresent);
  // Followed past where the femur is traced (from row 95 down), to the
  // film's top: where the nail lies at rows 50 and 200.
  EXPECT_TRUE(metalAt(found.result, 231, 50));
  EXPECT_TRUE(metalAt(found.result, 255, 200));
  // No line at the condyles: the line is looked for where the nail holds
  // the bone (the fracture, at rows 95-135, lies where the traced femur
  // begins; ANailTheMetalMaskSplitsIsOneImplant finds it there).
  if (found.result.fractureFound) {
    EXPECT_LT(found.result.fractureLine[0][1], 250.0);
  }
  RadiographAnalysisParameters noCanalNail;
  noCanalNail.canalNailMinStep = 10;
  const AtlasFilmResult missed = analyzeAtlasFilm("IMG0000467", noCanalNail);
  EXPECT_FALSE(missed.result.metalPresent);
  ASSERT_TRUE(missed.result.fractureFound);
  EXPECT_GT(missed.result.fractureLine[0][1], 250.0);
}

TEST(RadiographAnalysis, ANailDimmerThanTheMetalLevelsIsFoundDownTheCanal) {
  // A 9 mm nail down the canal of the tube, in a limb whose soft tissue
  // already reaches 0.7 of the range: the nail (0.98) stands a little
  // above the cortices (0.91), and its level's candidate is the whole
  // bone. The middle of the shaft's profile, flat and brighter than the
  // cortices, gives it away.
  constexpr int kColumns = 500, kRows = 800, kGapRow = 430;
  const auto image = test::makeTubeRadiograph(2.0, kGapRow, kColumns, kRows, 0.2);
  const auto analyse = [&](const RadiographAnalysisParameters& p) {
    return analyzeRadiographUnion(*image, 0.2, RadiographView::AP, RadiographOrientation{'L'},
                                  Laterality::Right, p);
  };
  const auto metalAt = [](const RadiographAnalysisResult& result, int x, int y) {
    return metalMaskOf(result, {kColumns, kRows}).at<std::uint8_t>(y, x) != 0;
  };
  const RadiographAnalysisResult found = analyse({});
  EXPECT_TRUE(found.metalPresent);
  // The nail, along the whole film, and not the cortices beside it.
  for (int row : {20, 200, 600, 780}) {
    EXPECT_TRUE(metalAt(found, kColumns / 2, row)) << row;
    EXPECT_FALSE(metalAt(found, kColumns / 2 - 45, row)) << row;
    EXPECT_FALSE(metalAt(found, kColumns / 2 + 45, row)) << row;
  }
  EXPECT_NEAR(found.shaftWidthMm, 22.0, 2.0);
  ASSERT_TRUE(found.fractureFound);
  for (const auto& end : found.fractureLine) {
    EXPECT_NEAR(end[1], kGapRow, 4.0);
  }
  RadiographAnalysisParameters noCanalNail;
  noCanalNail.canalNailMinStep = 10;
  EXPECT_FALSE(analyse(noCanalNail).metalPresent);
}

TEST(RadiographAnalysis, AFaintObliqueLineAlongANailIsFound) {
  // Phantom 310 at 24 weeks, lateral film of a 45-degree oblique
  // hypertrophic nonunion with a nail: the cleft, half hidden by the nail
  // and filled in by callus, stays under fractureMinEvidence, and both
  // cortices were left unassessed. It lies where the nail holds the bone
  // (fixedFractureMinEvidence).
  const FilmWithTruth lateral =
      cohortFilm(310, phantom::Scenario::HypertrophicNonunion, phantom::Implant::Nail, 24,
                 RadiographView::Lateral, obliqueAt45Degrees);
  const RadiographAnalysisResult result = analyzedWithLineNearTruth(lateral);
  EXPECT_LT(result.fractureEvidence, RadiographAnalysisParameters{}.fractureMinEvidence);
}

TEST(RadiographAnalysis, AnExternalFixatorsPinsDoNotJoinTheBoneToItsFrame) {
  // Phantom 313 at 6 weeks, lateral film, with an external fixator: the
  // tibia, its pins, the clamps and the rod close into one ladder-shaped
  // component, not elongated; no long bone was found until such a
  // component is opened to free the bone from the pins (initialFrame).
  const FilmWithTruth lateral =
      cohortFilm(313, phantom::Scenario::PartialBridging, phantom::Implant::ExternalFixator, 6,
                 RadiographView::Lateral);
  const RadiographAnalysisResult result = analyzedWithLineNearTruth(lateral);
  EXPECT_TRUE(result.metalPresent);
}

TEST(RadiographAnalysis, AFaintEarlyCollarIsCallusAndBareCortexIsNot) {
  // Phantom 303 at 12 weeks, lateral film: a delayed union without implant.
  // The anterior cortex has a thin early collar, cleft by the gap (truth 2),
  // 0.05-0.06 of the cortex's contrast above the soft tissue; at a callus
  // level of 0.06 it was read as no callus at all (1). Six weeks earlier
  // three of the four cortices have no collar yet, and must still read 1.
  const std::vector<PhantomVisit> visits = phantomVisits(
      cohortPatient(303, phantom::Scenario::DelayedUnion, phantom::Implant::None, {}));
  const std::vector<FilmWithTruth>& early = filmsOf(visits, "W12");
  ASSERT_EQ(early.size(), 2U);
  const FilmWithTruth& lateral = early.back();
  ASSERT_EQ(lateral.film.view(), RadiographView::Lateral);
  ASSERT_EQ(lateral.truth["cortices"]["anterior"]["category"], 2);
  const RadiographAnalysisResult result = analyzePhantomFilm(lateral.film, *lateral.film.image);
  ASSERT_TRUE(result.fractureFound);
  const CortexScore& anterior = result.cortices[static_cast<std::size_t>(Cortex::Anterior)];
  ASSERT_TRUE(anterior.category.has_value()) << anterior.notAssessable;
  EXPECT_EQ(*anterior.category, CortexCategory::CallusVisibleLine);

  const std::vector<FilmWithTruth>& bare = filmsOf(visits, "W6");
  ASSERT_EQ(bare.size(), 2U);
  int bareCortices = 0;
  for (const FilmWithTruth& film : bare) {
    const RadiographAnalysisResult bareResult = analyzePhantomFilm(film.film, *film.film.image);
    ASSERT_TRUE(bareResult.fractureFound);
    for (const auto& [key, expected] : film.truth["cortices"].items()) {
      if (expected["category"] != 1) {
        continue;
      }
      ++bareCortices;
      const CortexScore& score = bareResult.cortices[static_cast<std::size_t>(*cortexFromKey(key))];
      ASSERT_TRUE(score.category.has_value()) << key << ": " << score.notAssessable;
      EXPECT_EQ(*score.category, CortexCategory::NoCallus) << key;
    }
  }
  EXPECT_EQ(bareCortices, 3);
}

TEST(RadiographAnalysis, MetalOverTheCortexBandIsNotReadAsTheFractureLine) {
  // Phantom 314 at 24 weeks, lateral film: partial bridging under a plate
  // seen en face. The plate borders the posterior cortex, and its outline
  // runs into that cortex's band in some rows and not in others. Read as
  // dark cortex, that metal made the band away from the line darker than
  // the band at it (line measure 1.23): the cleft cortex (truth 2) was
  // called remodelled, with no line left (4).
  const FilmWithTruth lateral = cohortFilm(314, phantom::Scenario::PartialBridging,
                                           phantom::Implant::Plate, 24, RadiographView::Lateral);
  ASSERT_EQ(lateral.truth["cortices"]["posterior"]["category"], 2);
  const RadiographAnalysisResult result = analyzePhantomFilm(lateral.film, *lateral.film.image);
  ASSERT_TRUE(result.fractureFound);
  const RadiographSideResult* side = sideOf(result, Cortex::Posterior);
  ASSERT_NE(side, nullptr);
  EXPECT_LT(side->lineContrast, 0.95);
  const CortexScore& posterior = result.cortices[static_cast<std::size_t>(Cortex::Posterior)];
  ASSERT_TRUE(posterior.category.has_value()) << posterior.notAssessable;
  EXPECT_NE(*posterior.category, CortexCategory::Remodelled);
}

TEST(RadiographAnalysis, AnObliqueCleftSeenObliquelyIsFoundWhereItCutsEachCortex) {
  // Phantom 312 with its fracture plane at 45 degrees, 6 weeks, AP film, no
  // implant: the plane is seen obliquely, as an ellipse, and the line found
  // across the shaft runs flat through its middle. Each profile cortex is
  // cut where the ellipse meets it, more than half a shaft width along the
  // shaft from that flat line: looked for only that far, both gaps were
  // missed and the line was 7.5 mm off. With no dip near the line, the
  // gap is looked for further (cortexGapFarWindowWidths).
  const FilmWithTruth ap =
      cohortFilm(312, phantom::Scenario::PartialBridging, phantom::Implant::None, 6,
                 RadiographView::AP, obliqueAt45Degrees);
  analyzedWithLineNearTruth(ap);
}

TEST(RadiographAnalysis, AnObliqueLineIsDrawnWhereTheCleftMeetsEachEdge) {
  // Phantom 300 with its fracture plane at 45 degrees, lateral films: the
  // plane is seen edge-on. The cortex band dips where the cleft crosses the
  // band, a tenth of a shaft width inside the edge; taken for where the
  // cleft meets the edge, each end of the line sat that far again along the
  // shaft toward the middle (2.3-2.7 mm from the truth at 6 and 12 weeks).
  // The cleft is now followed from the band's inner half through its outer
  // half to the edge (0.2-0.3 mm). (At 24 weeks the cleft is mostly
  // bridged, its dips faint: 1.9 -> 2.0 mm.)
  for (const double weeks : {6.0, 12.0}) {
    SCOPED_TRACE(weeks);
    const FilmWithTruth lateral =
        cohortFilm(300, phantom::Scenario::NormalHealing, phantom::Implant::None, weeks,
                   RadiographView::Lateral, obliqueAt45Degrees);
    const RadiographAnalysisResult result = analyzedWithLineNearTruth(lateral);
    if (result.fractureFound) {
      EXPECT_LE(lineErrorMm(result, lateral), 1.0);
    }
  }
}

TEST(RadiographAnalysis, AnObliqueCleftIsFoundWhereItCrossesTheCollar) {
  // Phantom 300 with its fracture plane at 45 degrees, 6 weeks, lateral
  // film: the plane is seen edge-on, both collars cleft (truth 2). Each
  // cortex is measured at the row where its band dips (CortexGapRows::
  // inBand); along the 45 degree line the cleft meets the collar outside
  // the edge about a tenth of a shaft width further along the shaft. Read
  // only within two rows of the gap row, the collar kept 0.8-0.9 of its
  // density there and both cortices were called bridged (3).
  const FilmWithTruth lateral =
      cohortFilm(300, phantom::Scenario::NormalHealing, phantom::Implant::None, 6,
                 RadiographView::Lateral, obliqueAt45Degrees);
  const RadiographAnalysisResult result = analyzePhantomFilm(lateral.film, *lateral.film.image);
  ASSERT_TRUE(result.fractureFound);
  EXPECT_GE(result.fractureTiltDeg, 30.0);
  for (Cortex cortex : {Cortex::Anterior, Cortex::Posterior}) {
    ASSERT_EQ(lateral.truth["cortices"][cortexKey(cortex)]["category"], 2);
    const CortexScore& score = result.cortices[static_cast<std::size_t>(cortex)];
    ASSERT_TRUE(score.category.has_value()) << cortexKey(cortex) << ": " << score.notAssessable;
    EXPECT_EQ(*score.category, CortexCategory::CallusVisibleLine) << cortexKey(cortex);
  }
}

TEST(RadiographAnalysis, AHypertrophicNonunionSeenObliquelyIsNotCalledBridged) {
  // Phantom 309 at 12 weeks (the cohort's patient, with its noise and
  // MONOCHROME1): a hypertrophic nonunion whose plane the lateral
  // film shows 25-30 degrees off the cross-section, cleft through a wide
  // callus. On the AP film that plane crosses the beam obliquely: the gap is
  // spread over the rows of each profile cortex, and alone the AP film
  // calls both its cortices bridged (truth: 2, callus with a visible line).
  const std::vector<FilmWithTruth> films =
      cohortVisitFilms(309, phantom::Scenario::HypertrophicNonunion, phantom::Implant::None, 12);
  ASSERT_EQ(films.size(), 2U);
  const FilmWithTruth& ap = films.front();
  const FilmWithTruth& lateral = films.back();
  ASSERT_EQ(ap.film.view(), RadiographView::AP);
  RadiographAnalysisResult apResult = analyzePhantomFilm(ap.film, *ap.film.image);
  const RadiographAnalysisResult lateralResult =
      analyzePhantomFilm(lateral.film, *lateral.film.image);
  ASSERT_TRUE(lateralResult.fractureFound);
  EXPECT_GE(lateralResult.fractureTiltDeg, 20.0);
  for (Cortex cortex : {Cortex::Anterior, Cortex::Posterior}) {
    const CortexScore& score = lateralResult.cortices[static_cast<std::size_t>(cortex)];
    ASSERT_TRUE(score.category.has_value()) << cortexKey(cortex);
    EXPECT_FALSE(score.bridged()) << cortexKey(cortex);
  }
  EXPECT_TRUE(withdrawSmearedBridging(apResult, RadiographView::Lateral, lateralResult));
  // Each AP cortex is now either scored cleft or withdrawn, saying why.
  for (Cortex cortex : {Cortex::Medial, Cortex::Lateral}) {
    const CortexScore& score = apResult.cortices[static_cast<std::size_t>(cortex)];
    if (score.category) {
      EXPECT_FALSE(score.bridged()) << cortexKey(cortex);
    } else {
      EXPECT_NE(score.notAssessable.find("crosses the beam obliquely"), std::string::npos)
          << cortexKey(cortex) << ": " << score.notAssessable;
    }
  }
  EXPECT_EQ(apResult.scores.bridgedCortices, 0);
}

TEST(RadiographAnalysis, AFilmCollimatedToTheFractureStillMeasuresTheCallusCollar) {
  // A healing visit with a callus collar on every cortex (truth category 3).
  for (const auto& [series, film, metalTruth] : healingPhantomFilms()) {
    const RadiographAnalysisResult whole = analyzePhantomFilm(film, *film.image);
    ASSERT_TRUE(whole.fractureFound) << film.plan.view;
    // Keep 1.6 shaft widths either side of the fracture: too short for the
    // soft-tissue reference 1.5-4 widths from the gap.
    const double row = 0.5 * (series["fracture_line"][0][1].get<double>() +
                              series["fracture_line"][1][1].get<double>());
    const int rows = static_cast<int>(film.image->GetLargestPossibleRegion().GetSize()[1]);
    const int first = std::max(0, static_cast<int>(row - 1.6 * whole.shaftWidthPixels));
    const int last = std::min(rows, static_cast<int>(row + 1.6 * whole.shaftWidthPixels));
    ASSERT_LT(last - first, rows * 3 / 4) << "the crop must cut the film";
    const RadiographAnalysisResult collimated =
        analyzePhantomFilm(film, *rowsOf(*film.image, first, last - first));
    ASSERT_TRUE(collimated.fractureFound) << film.plan.view;
    for (std::size_t side = 0; side < 2; ++side) {
      const double wholeCollar = whole.sides[side].collarContrast;
      const double shortCollar = collimated.sides[side].collarContrast;
      SCOPED_TRACE(fmt::format("{} side {}: collar {:.3f} on the whole film, {:.3f} collimated",
                               film.plan.view, side, wholeCollar, shortCollar));
      ASSERT_GE(wholeCollar, RadiographAnalysisParameters{}.collarContrast);
      EXPECT_FALSE(std::isnan(shortCollar));
      EXPECT_NEAR(shortCollar, wholeCollar, 0.06);
      EXPECT_EQ(collimated.sides[side].score.category, whole.sides[side].score.category);
    }
  }
}

namespace {

/// What a drawing on a film is checked against: the film analysed as it is.
struct PaintedFilm {
  std::string view;
  RadiographAnalysisResult plain, painted;
  cv::Mat drawn;                          ///< CV_8U, what was drawn
  double mm = 0;                          ///< pixels per mm
  double axisColumn = 0, fractureRow = 0; ///< of the plain film
};

/// The seed-300 healing visit's two films, each analysed as it is and
/// again after `paint` drew into it (returning the mask of what it drew,
/// given the plain film's pixels, its axis column, fracture row and
/// pixels per mm).
std::vector<PaintedFilm>
paintedPhantomFilms(const std::function<cv::Mat(cv::Mat&, double, double, double)>& paint,
                    const std::string& debugName) {
  std::vector<PaintedFilm> films;
  for (const auto& [series, film, metalTruth] : healingPhantomFilms()) {
    PaintedFilm out;
    out.view = film.plan.view;
    out.plain = analyzePhantomFilm(film, *film.image);
    out.mm = 1.0 / film.plan.pixelSpacingMm;
    out.axisColumn = 0.5 * (out.plain.shaftAxis[0][0] + out.plain.shaftAxis[1][0]);
    out.fractureRow = 0.5 * (out.plain.fractureLine[0][1] + out.plain.fractureLine[1][1]);
    const auto size = film.image->GetLargestPossibleRegion().GetSize();
    const int cols = static_cast<int>(size[0]), rows = static_cast<int>(size[1]);
    auto image = rowsOf(*film.image, 0, rows);
    cv::Mat pixels(rows, cols, CV_32F, image->GetBufferPointer());
    out.drawn = paint(pixels, out.axisColumn, out.fractureRow, out.mm);
    out.painted = analyzePhantomFilm(film, *image);
    if (const std::optional<std::filesystem::path> debug = debugDirectory()) {
      writeRadiographOverlay(*image, out.painted, *debug / (debugName + "_" + out.view + ".png"));
    }
    films.push_back(std::move(out));
  }
  return films;
}

/// `drawn` burnt into the film at `value`, blurred as the detector blurs
/// it; returns `drawn` (what a painter hands back).
cv::Mat burntIn(cv::Mat& pixels, const cv::Mat& drawn, float value) {
  pixels.setTo(value, drawn);
  cv::GaussianBlur(pixels, pixels, cv::Size(), 1.0);
  return drawn;
}

/// The painted film still shows the plain film's shaft and fracture line.
void expectSameShaftAndLine(const PaintedFilm& film) {
  SCOPED_TRACE(film.view);
  ASSERT_TRUE(film.plain.fractureFound);
  EXPECT_NEAR(film.painted.shaftWidthPixels, film.plain.shaftWidthPixels,
              0.1 * film.plain.shaftWidthPixels);
  EXPECT_NEAR(0.5 * (film.painted.shaftAxis[0][0] + film.painted.shaftAxis[1][0]), film.axisColumn,
              3 * film.mm);
  ASSERT_TRUE(film.painted.fractureFound);
  EXPECT_NEAR(0.5 * (film.painted.fractureLine[0][1] + film.painted.fractureLine[1][1]),
              film.fractureRow, 3 * film.mm);
}

/// The first and last column of film row `y` brighter than `level` (the
/// limb's edges there); left > right when there is none.
std::pair<int, int> limbEdgesOnRow(const cv::Mat& pixels, int y, float level) {
  const float* row = pixels.ptr<float>(y);
  int left = pixels.cols, right = -1;
  for (int x = 0; x < pixels.cols; ++x) {
    if (row[x] > level) {
      left = std::min(left, x);
      right = std::max(right, x);
    }
  }
  return {left, right};
}

/// ... and, with nothing metal drawn, no metal and the same categories.
void expectSameReadingWithoutMetal(const PaintedFilm& film) {
  expectSameShaftAndLine(film);
  SCOPED_TRACE(film.view);
  EXPECT_FALSE(film.painted.metalPresent);
  for (std::size_t side = 0; side < 2; ++side) {
    EXPECT_EQ(film.painted.sides[side].score.category, film.plain.sides[side].score.category);
  }
}

} // namespace

TEST(RadiographAnalysis, AnExternalFixatorBesideTheLimbIsMetalNotBone) {
  // A uniplanar fixator: a bar parallel to the shaft in the air beside the
  // limb, and four pins from it through the soft tissue into the bone.
  const auto fixator = [](cv::Mat& pixels, double axisColumn, double fractureRow, double mm) {
    const int barColumn = static_cast<int>(std::lround(axisColumn - 70 * mm));
    EXPECT_GT(barColumn - 6 * mm, 0);
    cv::Mat drawn = cv::Mat::zeros(pixels.size(), CV_8U);
    cv::rectangle(drawn, cv::Point(static_cast<int>(barColumn - 5 * mm), 0),
                  cv::Point(static_cast<int>(barColumn + 5 * mm), pixels.rows - 1), 255,
                  cv::FILLED);
    for (const double along : {-45.0, -30.0, 30.0, 45.0}) {
      const int row = static_cast<int>(std::lround(fractureRow + along * mm));
      cv::rectangle(
          drawn, cv::Point(barColumn, static_cast<int>(row - 2.5 * mm)),
          cv::Point(static_cast<int>(axisColumn + 8 * mm), static_cast<int>(row + 2.5 * mm)), 255,
          cv::FILLED);
    }
    return burntIn(pixels, drawn, 1.0F);
  };
  for (const PaintedFilm& film : paintedPhantomFilms(fixator, "fixator")) {
    expectSameShaftAndLine(film);
    SCOPED_TRACE(film.view);
    EXPECT_TRUE(film.painted.metalPresent);
    const cv::Mat found = metalMaskOf(film.painted, film.drawn.size());
    EXPECT_GE(cv::countNonZero(found & film.drawn), 0.8 * cv::countNonZero(film.drawn));
  }
}

TEST(RadiographAnalysis, ARulerBesideTheLimbIsNotTheBone) {
  // A radiopaque ruler's markings in the air beside the limb: a spine down
  // the film with a tick every 10 mm, longer every 50 mm.
  const auto ruler = [](cv::Mat& pixels, double axisColumn, double, double mm) {
    const int spine = static_cast<int>(std::lround(axisColumn - 60 * mm));
    EXPECT_GT(spine - 12 * mm, 0);
    cv::Mat drawn = cv::Mat::zeros(pixels.size(), CV_8U);
    cv::rectangle(drawn, cv::Point(spine, 0),
                  cv::Point(static_cast<int>(spine + 1.5 * mm), pixels.rows - 1), 255, cv::FILLED);
    for (int tick = 0; tick * 10 * mm < pixels.rows; ++tick) {
      const int row = static_cast<int>(std::lround(tick * 10 * mm));
      const double length = tick % 5 == 0 ? 12 : 6;
      cv::rectangle(drawn, cv::Point(static_cast<int>(spine - length * mm), row),
                    cv::Point(spine, static_cast<int>(row + 1 * mm)), 255, cv::FILLED);
    }
    return burntIn(pixels, drawn, 0.95F);
  };
  for (const PaintedFilm& film : paintedPhantomFilms(ruler, "ruler")) {
    expectSameShaftAndLine(film);
  }
}

TEST(RadiographAnalysis, ALeadSideMarkerIsNeitherBoneNorImplant) {
  // A lead "R" 15 mm tall in the air beside the limb, near the film's top.
  const auto marker = [](cv::Mat& pixels, double axisColumn, double, double mm) {
    cv::Mat drawn = cv::Mat::zeros(pixels.size(), CV_8U);
    const cv::Point corner(static_cast<int>(axisColumn - 65 * mm), static_cast<int>(25 * mm));
    EXPECT_GT(corner.x, 0);
    cv::putText(drawn, "R", corner, cv::FONT_HERSHEY_SIMPLEX, 15 * mm / 22.0, 255,
                static_cast<int>(std::lround(2.5 * mm)));
    return burntIn(pixels, drawn, 1.0F);
  };
  for (const PaintedFilm& film : paintedPhantomFilms(marker, "marker")) {
    expectSameShaftAndLine(film);
    SCOPED_TRACE(film.view);
    EXPECT_GT(cv::countNonZero(film.drawn), 0);
    EXPECT_FALSE(film.painted.metalPresent);
  }
}

TEST(RadiographAnalysis, ACastAroundTheLimbIsNotTheBone) {
  // A plaster cast: a shell 6 mm thick, 8 mm clear of the skin, as a
  // projection shows it: densest where its walls are seen edge-on.
  const auto cast = [](cv::Mat& pixels, double, double fractureRow, double mm) {
    const auto [left, right] = limbEdgesOnRow(pixels, static_cast<int>(fractureRow), 0.1F);
    EXPECT_LT(left, right);
    const double centre = 0.5 * (left + right);
    const double inner = 0.5 * (right - left) + 8 * mm, outer = inner + 6 * mm;
    cv::Mat drawn = cv::Mat::zeros(pixels.size(), CV_8U);
    for (int x = 0; x < pixels.cols; ++x) {
      const double u = x - centre;
      if (std::abs(u) >= outer) {
        continue;
      }
      const double chord =
          2 * (std::sqrt(outer * outer - u * u) - std::sqrt(std::max(0.0, inner * inner - u * u)));
      const auto add =
          static_cast<float>(0.25 * chord / (2 * std::sqrt(outer * outer - inner * inner)));
      for (int y = 0; y < pixels.rows; ++y) {
        pixels.at<float>(y, x) = std::min(1.0F, pixels.at<float>(y, x) + add);
      }
      drawn.col(x).setTo(255);
    }
    return drawn;
  };
  // The callus and the bridging are read against the tissue beside them,
  // which the cast raises as much as the callus.
  for (const PaintedFilm& film : paintedPhantomFilms(cast, "cast")) {
    expectSameReadingWithoutMetal(film);
  }
}

TEST(RadiographAnalysis, APlasterSlabAlongOneSideOfTheLimbIsNotTheBone) {
  // A back slab: plaster moulded along one side of the limb, held by a
  // bandage, 8 mm thick and 2 mm clear of the skin over 80 degrees of the
  // limb's round, thinning to nothing over 25 degrees more either side.
  // The film sees it edge-on along the limb's right edge, a band adding
  // half the range (FracAtlas 2454 and 2582 show such bands), and barely
  // face-on. Brighter, it is taken for metal, and at 0.9 of the range
  // without the padding the traced shaft moves (docs/radiograph-analysis.md,
  // Limitations).
  const auto slab = [](cv::Mat& pixels, double, double fractureRow, double mm) {
    const auto limbAt = [&](int y) { return limbEdgesOnRow(pixels, y, 0.05F); };
    // The plaster crossed by the beam at each distance from the limb's
    // centre (the cross-section at the fracture, the beam down the rows).
    const auto [left, right] = limbAt(static_cast<int>(fractureRow));
    EXPECT_LT(left, right);
    const double inner = 0.5 * (right - left) + 2 * mm, outer = inner + 8 * mm;
    const auto thickness = [&](double angle) {
      const double deg = std::abs(angle) * 180.0 / M_PI;
      return 8 * mm * std::clamp((65.0 - deg) / 25.0, 0.0, 1.0);
    };
    std::vector<double> plaster(static_cast<std::size_t>(std::ceil(outer)) + 1, 0.0);
    for (std::size_t u = 0; u < plaster.size(); ++u) {
      for (double v = -outer; v <= outer; v += 0.25) {
        const double r = std::hypot(static_cast<double>(u), v);
        const double angle = std::atan2(v, static_cast<double>(u));
        plaster[u] += r >= inner && r <= inner + thickness(angle) ? 0.25 : 0.0;
      }
    }
    const double edgeOn = *std::max_element(plaster.begin(), plaster.end());
    cv::Mat drawn = cv::Mat::zeros(pixels.size(), CV_8U);
    cv::Mat added(pixels.size(), CV_32F, cv::Scalar(0));
    for (int y = 0; y < pixels.rows; ++y) {
      const auto [l, r] = limbAt(y);
      if (l >= r) {
        continue;
      }
      // Placed along this row's own edge.
      const double centre = r - (inner - 2 * mm);
      for (std::size_t u = 0; u < plaster.size(); ++u) {
        const int x = static_cast<int>(std::lround(centre)) + static_cast<int>(u);
        if (x < pixels.cols && plaster[u] > 0) {
          added.at<float>(y, x) = static_cast<float>(0.5 * plaster[u] / edgeOn);
          drawn.at<std::uint8_t>(y, x) = 255;
        }
      }
    }
    cv::GaussianBlur(added, added, cv::Size(), 1.0);
    // Written into the film's own pixels (the painter's Mat wraps them).
    cv::Mat(cv::min(pixels + added, 1.0F)).copyTo(pixels);
    return drawn;
  };
  for (const PaintedFilm& film : paintedPhantomFilms(slab, "slab")) {
    expectSameReadingWithoutMetal(film);
  }
}

TEST(RadiographAnalysis, CollimatorShuttersAreNeitherTissueNorBone) {
  // A computed radiograph collimated to the limb on a cassette twice its
  // width: the blades leave the film unexposed either side of the field,
  // white on the display, with scatter falling off toward each blade's
  // edge (over 8 mm, to 0.65). The blades stand at the phantom film's own
  // edges, in the air beside the limb, tilted 1.5 degrees. Taken for
  // tissue, shutters wider than the limb made the limb as wide as the film,
  // and the bone mask the whole leg (NEMA WG04 RG3, below).
  const auto notes = [](const RadiographAnalysisResult& r) {
    return std::count(r.notes.begin(), r.notes.end(), kShutterNote);
  };
  for (const auto& [series, film, metalTruth] : healingPhantomFilms()) {
    SCOPED_TRACE(film.plan.view);
    const RadiographAnalysisResult plain = analyzePhantomFilm(film, *film.image);
    ASSERT_TRUE(plain.fractureFound);
    const double mm = 1.0 / film.plan.pixelSpacingMm;
    const cv::Mat field = pixelsOf(*film.image);
    const int pad = static_cast<int>(std::lround(90 * mm));
    cv::Mat pixels(field.rows, field.cols + 2 * pad, CV_32F, cv::Scalar(0));
    field.copyTo(pixels(cv::Rect(pad, 0, field.cols, field.rows)));
    const double tilt = std::tan(1.5 * M_PI / 180.0);
    for (int y = 0; y < pixels.rows; ++y) {
      const double shift = tilt * (y - 0.5 * pixels.rows);
      const double left = pad + 3 * mm + shift, right = pad + field.cols - 3 * mm + shift;
      for (int x = 0; x < pixels.cols; ++x) {
        const double beyond = x < left ? left - x : (x > right ? x - right : -1.0);
        if (beyond >= 0) {
          pixels.at<float>(y, x) = shutterLevel(beyond, mm);
        }
      }
    }
    cv::GaussianBlur(pixels, pixels, cv::Size(), 1.0);
    const RadiographImage::Pointer collimated = radiographOf(pixels, *film.image);
    const RadiographAnalysisResult result = analyzePhantomFilm(film, *collimated);
    if (const std::optional<std::filesystem::path> debug = debugDirectory()) {
      writeRadiographOverlay(*collimated, result, *debug / ("shutters_" + film.plan.view + ".png"));
    }
    // The same shaft, line and scores as on the film without shutters.
    EXPECT_NEAR(result.shaftWidthPixels, plain.shaftWidthPixels, 0.1 * plain.shaftWidthPixels);
    EXPECT_NEAR(0.5 * (result.shaftAxis[0][0] + result.shaftAxis[1][0]),
                pad + 0.5 * (plain.shaftAxis[0][0] + plain.shaftAxis[1][0]), 3 * mm);
    ASSERT_TRUE(result.fractureFound);
    EXPECT_NEAR(0.5 * (result.fractureLine[0][1] + result.fractureLine[1][1]),
                0.5 * (plain.fractureLine[0][1] + plain.fractureLine[1][1]), 3 * mm);
    EXPECT_EQ(result.metalPresent, plain.metalPresent);
    for (std::size_t side = 0; side < 2; ++side) {
      EXPECT_EQ(result.sides[side].score.category, plain.sides[side].score.category);
    }
    EXPECT_EQ(notes(result), 1);
    EXPECT_EQ(notes(plain), 0);
  }
}

TEST(RealRadiographs, ACollimatedComputedRadiographShowsTheTibiaNotTheLimb) {
  // NEMA WG04 RG3: a Fuji CR of a distal tibia and fibula (AP, MONOCHROME1,
  // no pixel spacing), collimated to the leg: a quarter of the film either
  // side is unexposed and white. No implant, no fracture (a lytic lesion in
  // the metaphysis).
  const std::filesystem::path file =
      std::filesystem::path(UNIONSCOPE_SHARED_DIR) / "realdata" / "dicom_wg04" / "REF" / "RG3_UNC";
  if (!std::filesystem::exists(file)) {
    GTEST_SKIP() << "no " << file << " (realdata not present)";
  }
  const dicom::HeaderReadResult header = dicom::readDicomHeader(file);
  ASSERT_TRUE(header.header) << header.rejectReason;
  const dicom::RadiographPlan plan = dicom::planRadiograph(*header.header);
  ASSERT_TRUE(plan.ok()) << plan.rejectReason;
  const RadiographImage::Pointer image = dicom::loadRadiograph(plan);
  const RadiographAnalysisResult result =
      analyzeRadiographUnion(*image, 0, RadiographView::AP, {}, Laterality::Unknown);
  if (const std::optional<std::filesystem::path> debug = debugDirectory()) {
    writeRadiographOverlay(*image, result, *debug / "RG3.png");
  }
  // The traced shaft is the tibia (about 110 pixels wide at mid-height,
  // columns 800-910), not the leg (380 wide, when the shutters were tissue),
  // and its dense cortex is not taken for an implant.
  EXPECT_GE(result.shaftWidthPixels, 90);
  EXPECT_LE(result.shaftWidthPixels, 150);
  const double axisColumn = 0.5 * (result.shaftAxis[0][0] + result.shaftAxis[1][0]);
  EXPECT_GE(axisColumn, 790);
  EXPECT_LE(axisColumn, 920);
  EXPECT_FALSE(result.metalPresent);
  EXPECT_EQ(std::count(result.notes.begin(), result.notes.end(), kShutterNote), 1);
}

TEST(RadiographAnalysis, AShutterAcrossTheShaftEndsTheSearchAsTheFilmsEdgeDoes) {
  // Collimated to the fracture: blades across the shaft 1.8 shaft widths
  // (42 mm) above and below it, the film white beyond them, with scatter
  // falling off toward each blade's edge. Where the blade cuts the bone,
  // the bone ends in a straight edge, as at the film's edge: taken for the
  // bone's own end, the line was found at a blade (181-194 pixels from the
  // fracture, and the cortices scored there).
  const auto shutters = [](cv::Mat& pixels, double, double fractureRow, double mm) {
    cv::Mat drawn = cv::Mat::zeros(pixels.size(), CV_8U);
    const double top = fractureRow - 42 * mm, bottom = fractureRow + 42 * mm;
    for (int y = 0; y < pixels.rows; ++y) {
      const double beyond = y < top ? top - y : (y > bottom ? y - bottom : -1.0);
      if (beyond >= 0) {
        pixels.row(y).setTo(shutterLevel(beyond, mm));
        drawn.row(y).setTo(255);
      }
    }
    cv::GaussianBlur(pixels, pixels, cv::Size(), 1.0);
    return drawn;
  };
  for (const PaintedFilm& film : paintedPhantomFilms(shutters, "blades")) {
    expectSameShaftAndLine(film);
    SCOPED_TRACE(film.view);
    for (std::size_t side = 0; side < 2; ++side) {
      EXPECT_EQ(film.painted.sides[side].score.category, film.plain.sides[side].score.category);
    }
    EXPECT_EQ(std::count(film.painted.notes.begin(), film.painted.notes.end(), kShutterNote), 1);
  }
}

TEST(RadiographAnalysis, AgreesWithPhantomTruthAcrossScenariosImplantsAndDisplays) {
  const RadiographTally tally = evaluatePhantomCohort([](phantom::PatientSpec&) {}, true);
  const double agreement = agreementOf(tally);
  std::printf("radiographs %d (fracture line within 3 mm: %d), cortices %d, scored %d, agreement "
              "%.3f, not assessable %d (%d obscured in truth), union agreement %.3f\n",
              tally.radiographs, tally.linesNearTruth, tally.cortices,
              tally.cortices - tally.notAssessable, agreement, tally.notAssessable,
              tally.obscuredRight, unionAgreementOf(tally));
  std::printf("where the fracture line is within 3 mm: %d cortices scored, agreement %.3f\n",
              tally.scoredWhereLineRight,
              shareOf(tally.agreeWhereLineRight, tally.scoredWhereLineRight));
  const double agreementWithoutImplant =
      shareOf(tally.agreeWithoutImplant, tally.scoredWithoutImplant);
  std::printf("without implants: %d cortices scored, agreement %.3f\n", tally.scoredWithoutImplant,
              agreementWithoutImplant);
  std::printf("metal: %.3f of the true metal found, %.3f of what was found true\n",
              metalRecallOf(tally), metalPrecisionOf(tally));
  std::vector<double> tilt = tally.tiltErrorsDeg;
  std::sort(tilt.begin(), tilt.end());
  ASSERT_FALSE(tilt.empty());
  const double tiltMedian = tilt[tilt.size() / 2];
  const double tilt90 = tilt[tilt.size() * 9 / 10];
  std::printf("fracture line's angle to the cross-section, where the line is within 3 mm: "
              "error median %.1f, 90th percentile %.1f degrees\n",
              tiltMedian, tilt90);
  std::printf("confusion (rows truth 1-4, columns measured 1-4):\n");
  for (const auto& row : tally.confusion) {
    std::printf("  %4d %4d %4d %4d\n", row[0], row[1], row[2], row[3]);
  }
  // Issue 6's targets on the phantoms: category agreement 0.85, union
  // agreement 0.90 (reached: 0.870, 0.933). Radiograph scores stay
  // provisional while the real films' target is not (FracAtlas, above;
  // docs/radiograph-analysis.md).
  EXPECT_GE(agreement, 0.85);
  EXPECT_GE(unionAgreementOf(tally), 0.90);
  EXPECT_GE(tally.linesNearTruth, 79);
  // The line's angle says how far the plane runs along the other view's
  // beam (obliqueToBeamNote): median 0.6, 90th percentile 3.1 degrees (0.7
  // and 6.6 before the line's ends were followed out to the edges).
  EXPECT_LE(tiltMedian, 2.0);
  EXPECT_LE(tilt90, 6.0);
  // Implants against the generator's metal truth (a screw's tip or a plate's
  // rim within 1 mm either way is not counted).
  EXPECT_GE(metalRecallOf(tally), 0.95);
  EXPECT_GE(metalPrecisionOf(tally), 0.98);
  // Without implants the method is past the category target (0.98, 54
  // cortices scored): implants are what hold the total back.
  EXPECT_GE(agreementWithoutImplant, 0.95);
  // A plate seen edge-on hides the medial cortex on the AP view: most of
  // those cortices must be called not assessable, not scored.
  EXPECT_GE(tally.obscuredRight, 14);
  // Cortices go unscored only for a reason (a plate over them, no line seen).
  EXPECT_LE(tally.notAssessable - tally.obscuredRight, tally.cortices / 10);
}

// The same cohort with one geometric property pushed beyond what the
// generator draws (radius 10-12 mm, cortex 3.8-5 mm, 0.2 mm pixels,
// obliquity 0 or 25-40 degrees): a method fitted to the default phantoms
// would fall apart here. Regression guards at the level reached (see
// docs/radiograph-analysis.md, "Beyond the generator's range").
TEST(RadiographAnalysis, HoldsUpBeyondTheGeneratorsBoneSizeCortexSpacingAndObliquity) {
  struct Variant {
    const char* name;
    std::function<void(phantom::PatientSpec&)> vary;
    int minLines;        ///< of 90 radiographs, within 3 mm of the truth
    double minAgreement; ///< per-cortex category, where scored
    double minUnion;     ///< per visit
    double minMetalRecall, minMetalPrecision;
  };
  const std::vector<Variant> variants = {
      // Agreement falls where the cortices of films with a faint line
      // (fractureMinEvidence) are scored rather than left unassessed, and
      // union rises: radius 8 mm 0.650 -> 0.627 (143 -> 153 scored), 0.3 mm
      // pixels 0.824 -> 0.803 (148 -> 157), 45 degrees 0.766 -> 0.705
      // (94 -> 122).
      {"narrow shaft (radius 8 mm)", [](phantom::PatientSpec& s) { s.tibiaRadiusMm = 8; }, 65, 0.64,
       0.80, 0.27, 0.98},
      // Union 0.800 -> 0.778 once a cortex's gap is looked for further when
      // none lies near the line (cortexGapFarWindowWidths): 304 at 24 weeks,
      // lateral, had been right with a line 13 mm off; with the line 3.5 mm
      // off, its posterior cortex reads cleft (1, truth 3) and the visit
      // not united. Agreement 0.761 -> 0.757 once a plate ending within a
      // shaft width of the search fixes the bone (fixedRows): 311 at 6
      // weeks, lateral, gets a line 5.2 mm off where it had none, its
      // anterior cortex right (2) and its posterior not (4, truth 2).
      {"wide shaft (radius 14 mm)", [](phantom::PatientSpec& s) { s.tibiaRadiusMm = 14; }, 75, 0.75,
       0.77, 0.95, 0.78},
      // Union 0.889 -> 0.844 once a split shaft is bridged (see
      // RadiographAnalysisParameters::shaftMinLimbShare): on the shaft taken
      // as one wall, two visits had been decided by reading the plate-side
      // cortex the truth calls hidden; it is now not assessable, and the
      // visit undecided. 0.867 with faint lines scored; 0.844 once dense
      // pixels hide the line (lineHiddenDensity) and the search follows the
      // implant (fixationEndZoneWidths): lines 64 -> 69, and the two visits
      // of 302 found; lost are three visits that had been right with a
      // wrong line (308 at 6 weeks, lateral 15 mm off, now none; 314 at 24
      // weeks, AP 7 mm off reading the lateral cortex 2; 311 at 24 weeks,
      // where a better AP line no longer flags the lateral film oblique).
      {"thin cortex (2.5 mm)", [](phantom::PatientSpec& s) { s.cortexThicknessMm = 2.5; }, 74, 0.76,
       0.83, 0.90, 0.98},
      {"coarse pixels (0.3 mm)", [](phantom::PatientSpec& s) { s.radiographPixelMm = 0.3; }, 74,
       0.80, 0.86, 0.95, 0.98},
      {"oblique 45 degrees", obliqueAt45Degrees,
       // Union 0.711 -> 0.689 with dense pixels hiding the line: 314 at 24
       // weeks had been right with a lateral line 15 mm off, now not found.
       // 0.689 -> 0.733 once a fainter line counts where an implant holds
       // the bone (fixedFractureMinEvidence): 13 more films report a line
       // (119 -> 135 cortices scored), agreement 0.714 -> 0.704. Lines 32 ->
       // 37, agreement 0.722, union 0.756 once each cortex's gap is looked
       // for where the ellipse of the cleft meets it
       // (cortexGapFarWindowWidths). Lines 37 -> 41 once the line's ends
       // are followed out to the edges (see
       // AnObliqueLineIsDrawnWhereTheCleftMeetsEachEdge).
       41, 0.71, 0.75, 0.95, 0.98},
      // Every patient with an anteromedial frame instead (pins in each
      // fragment, clamps and a rod beside the limb). Metal recall is low by
      // design: the rod beside the limb projects grey, not saturated, and
      // is not taken for metal. Without opening a broad component to free
      // the bone from the pins, lines were 37 and union 0.467: on most
      // lateral films the tibia, its pins, the clamps and the rod were one
      // ladder-shaped component and no long bone was found. Still failing:
      // the rod or a clamp taken for the shaft, and lines at a pin (a pin's
      // blurred rim reads as a cortex's gap).
      {"external fixator",
       [](phantom::PatientSpec& s) { s.implant = phantom::Implant::ExternalFixator; }, 58, 0.63,
       0.73, 0.62, 0.86},
  };
  for (const Variant& variant : variants) {
    // UNIONSCOPE_ONLY_VARIANT=text runs the variants whose name holds it.
    if (const char* only = std::getenv("UNIONSCOPE_ONLY_VARIANT");
        only != nullptr && std::string(variant.name).find(only) == std::string::npos) {
      continue;
    }
    const RadiographTally tally =
        evaluatePhantomCohort(variant.vary, std::getenv("UNIONSCOPE_PRINT_ALL") != nullptr);
    std::printf("%s: lines within 3 mm %d of %d, agreement %.3f (%d scored), union %.3f, metal "
                "recall %.3f precision %.3f\n",
                variant.name, tally.linesNearTruth, tally.radiographs, agreementOf(tally),
                tally.cortices - tally.notAssessable, unionAgreementOf(tally), metalRecallOf(tally),
                metalPrecisionOf(tally));
    EXPECT_GE(tally.linesNearTruth, variant.minLines) << variant.name;
    EXPECT_GE(agreementOf(tally), variant.minAgreement) << variant.name;
    EXPECT_GE(unionAgreementOf(tally), variant.minUnion) << variant.name;
    EXPECT_GE(metalRecallOf(tally), variant.minMetalRecall) << variant.name;
    EXPECT_GE(metalPrecisionOf(tally), variant.minMetalPrecision) << variant.name;
  }
}

// The films are analysed resampled to workingLongSide pixels on their long
// side (640: about 0.24 mm on the phantoms). The parameters are mostly in
// shares of the shaft's width, but the measures near a threshold (a thin
// collar, a faint cortex gap, a line barely found) move with the sampling:
// at 560-740 pixels the same cohort's categories agree 0.82-0.87 and its
// union 0.87-0.93 (docs/radiograph-analysis.md, "Working resolution");
// 640, where the method was tuned, is the best of them. Guards at the
// level reached 6% either side of it: a change fitted to the default
// sampling alone, or one that breaks the resampling, fails here.
TEST(RadiographAnalysis, HoldsUpAtOtherWorkingResolutions) {
  struct Sampling {
    int workingLongSide;
    int minLines;
    double minAgreement, minUnion;
  };
  for (const Sampling& sampling : {Sampling{600, 75, 0.84, 0.91}, Sampling{680, 77, 0.84, 0.86}}) {
    RadiographAnalysisParameters parameters;
    parameters.workingLongSide = sampling.workingLongSide;
    const RadiographTally tally =
        evaluatePhantomCohort([](phantom::PatientSpec&) {}, false, parameters);
    std::printf("working long side %d: lines within 3 mm %d of %d, agreement %.3f (%d scored), "
                "union %.3f\n",
                sampling.workingLongSide, tally.linesNearTruth, tally.radiographs,
                agreementOf(tally), tally.cortices - tally.notAssessable, unionAgreementOf(tally));
    EXPECT_GE(tally.linesNearTruth, sampling.minLines) << sampling.workingLongSide;
    EXPECT_GE(agreementOf(tally), sampling.minAgreement) << sampling.workingLongSide;
    EXPECT_GE(unionAgreementOf(tally), sampling.minUnion) << sampling.workingLongSide;
  }
}
