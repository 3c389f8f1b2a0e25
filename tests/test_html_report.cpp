// report.html: self-contained (pictures inlined), built from the report's
// values, escaped, deterministic.

#include "TestSupport.h"
#include "unionscope/pipeline/HtmlReport.h"

#include <gtest/gtest.h>

namespace {

using unionscope::base64;
using unionscope::htmlReport;
using Json = nlohmann::ordered_json;

TEST(HtmlReport, Base64FollowsRfc4648) {
  // The test vectors of RFC 4648, section 10.
  EXPECT_EQ(base64(""), "");
  EXPECT_EQ(base64("f"), "Zg==");
  EXPECT_EQ(base64("fo"), "Zm8=");
  EXPECT_EQ(base64("foo"), "Zm9v");
  EXPECT_EQ(base64("foob"), "Zm9vYg==");
  EXPECT_EQ(base64("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64(std::string("\xff\x00\x80", 3)), "/wCA");
}

TEST(HtmlReport, ShowsEveryVisitInlinesPicturesAndEscapesText) {
  unionscope::test::TempDir dir;
  unionscope::test::writeText(dir.path() / "images" / "W12_series3_unrolled_cortex.png", "PNGDATA");
  const Json cortex = {{"category", 3}, {"bridged", true}, {"bridged_fraction", 0.5}};
  const Json report = {
      {"schema", "unionscope.report/1"},
      {"software", {{"name", "unionscope"}, {"version", "0.1.0"}}},
      {"patient_id", "<P&1>"},
      {"laterality", "R"},
      {"timepoints",
       Json::array(
           {{{"label", "W12"},
             {"weeks", 12.0},
             {"study_date", "2025-05-26"},
             {"series", Json::array({{{"modality", "CT"},
                                      {"status", "ok"},
                                      {"error", nullptr},
                                      {"callus_volume_mm3", 1234.5},
                                      {"callus_mean_hu", 640.0},
                                      {"notes", Json::array({"a <note>"})},
                                      {"explanation_image", "W12_series3_unrolled_cortex.png"}}})},
             {"cortices",
              {{"anterior", cortex},
               {"posterior", cortex},
               {"medial", cortex},
               {"lateral", {{"category", nullptr}, {"not_assessable", "metal"}}}}},
             {"rust", nullptr},
             {"mrust", nullptr},
             {"union", nullptr},
             {"sr_file", "dicom/W12_SR.dcm"}},
            {{"label", "W24"},
             {"weeks", 24.0},
             {"study_date", "2025-08-18"},
             {"series", Json::array()},
             {"cortices", nullptr}}})},
      {"union_timepoint", nullptr}};
  const std::string html = htmlReport(report, dir.path());
  EXPECT_EQ(html, htmlReport(report, dir.path())) << "deterministic";
  EXPECT_NE(html.find("data:image/png;base64," + base64("PNGDATA")), std::string::npos);
  EXPECT_NE(html.find("&lt;P&amp;1&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<P&1>"), std::string::npos) << "text is escaped";
  EXPECT_NE(html.find("a &lt;note&gt;"), std::string::npos);
  EXPECT_NE(html.find("<td>W24</td>"), std::string::npos);
  EXPECT_NE(html.find("1234.5"), std::string::npos);
  EXPECT_NE(html.find("dicom/W12_SR.dcm"), std::string::npos);
  EXPECT_NE(html.find("3 <small>(50%)</small>"), std::string::npos);
  EXPECT_EQ(html.find("http"), std::string::npos) << "nothing is fetched from elsewhere";
}

TEST(HtmlReport, PlotsTheTrajectoriesOfEveryVisit) {
  unionscope::test::TempDir dir;
  const auto visit = [](const char* label, double weeks, Json mrust, double volume,
                        double anterior) {
    return Json{{"label", label},
                {"weeks", weeks},
                {"bridged_fraction",
                 {{"anterior", anterior}, {"posterior", 0.5}, {"medial", 0.25}, {"lateral", 1.0}}},
                {"callus_volume_mm3", volume},
                {"mrust", mrust}};
  };
  const Json report = {{"patient_id", "P1"},
                       {"timepoints", Json::array()},
                       {"trajectories",
                        {{"visits", Json::array({visit("W6", 6, 8, 4000.0, 0.0),
                                                 visit("W12", 12, nullptr, 8000.0, 0.7),
                                                 visit("W24", 24, 15, 4300.0, 1.0)})}}}};
  const std::string html = htmlReport(report, dir.path());
  const auto count = [&](const std::string& needle) {
    std::size_t n = 0;
    for (std::size_t at = html.find(needle); at != std::string::npos;
         at = html.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count("<svg"), 3U) << "mRUST, callus volume, bridged fraction";
  // Every known value is a marked point with its value; the missing mRUST is
  // a gap, not a zero.
  EXPECT_NE(html.find("<title>mRUST W6: 8</title>"), std::string::npos);
  EXPECT_NE(html.find("<title>mRUST W24: 15</title>"), std::string::npos);
  EXPECT_EQ(html.find("<title>mRUST W12"), std::string::npos);
  EXPECT_NE(html.find("<title>callus mm3 W12: 8000</title>"), std::string::npos);
  EXPECT_NE(html.find("<title>anterior W12: 0.7</title>"), std::string::npos);
  EXPECT_EQ(count("<circle"), 2U + 3U + 4U * 3U);
  EXPECT_EQ(html.find("http"), std::string::npos) << "nothing is fetched from elsewhere";

  Json single = report;
  single["trajectories"]["visits"].erase(1);
  single["trajectories"]["visits"].erase(1);
  EXPECT_EQ(htmlReport(single, dir.path()).find("<svg"), std::string::npos)
      << "one visit has no trajectory";
}

} // namespace
