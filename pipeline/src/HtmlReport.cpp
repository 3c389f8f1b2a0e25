#include "unionscope/pipeline/HtmlReport.h"

#include "unionscope/filters/Scores.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

std::string escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

/// A value as the reader should see it: text as is, numbers as report.json
/// writes them, null as a dash.
std::string show(const Json& value) {
  if (value.is_null()) {
    return "&ndash;";
  }
  if (value.is_string()) {
    return escape(value.get<std::string>());
  }
  if (value.is_boolean()) {
    return value.get<bool>() ? "yes" : "no";
  }
  return escape(value.dump());
}

std::string field(const Json& object, const char* key) {
  return object.is_object() && object.contains(key) ? show(object[key]) : "&ndash;";
}

std::string cortexCell(const Json& cortex) {
  if (!cortex.is_object()) {
    return "<td>&ndash;</td>";
  }
  if (cortex["category"].is_null()) {
    return fmt::format("<td class=\"na\" title=\"{}\">n/a</td>",
                       escape(cortex.value("not_assessable", std::string())));
  }
  std::string text = std::to_string(cortex["category"].get<int>());
  if (cortex.contains("bridged_fraction")) {
    text +=
        fmt::format(" <small>({:.0f}%)</small>", cortex["bridged_fraction"].get<double>() * 100.0);
  }
  return fmt::format("<td class=\"c{}\">{}</td>", cortex["category"].get<int>(), text);
}

std::string readFile(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

constexpr const char* kStyle = R"(body{font-family:sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #bbb;padding:.3em .6em;text-align:center}
th{background:#eee}.c1{background:#f4cccc}.c2{background:#fce5cd}.c3{background:#d9ead3}.c4{background:#b6d7a8}
.na{background:#ddd}.notes{color:#a00}figure{display:inline-block;margin:.5em}img{max-width:100%}
small{color:#555})";

} // namespace

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t chunk = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      chunk = (chunk << 8U) |
              (k < n ? static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i + k])) : 0U);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(chunk >> (18 - 6 * k)) & 0x3FU] : '=';
    }
  }
  return out;
}

namespace {

/// A PNG inlined as a figure with its caption; nothing when the file is
/// not there (not rendered, or --no-snapshot).
std::string embeddedFigure(const fs::path& png, std::string_view imgAttributes,
                           std::string_view caption) {
  std::error_code missing;
  if (!fs::is_regular_file(png, missing)) {
    return {};
  }
  return fmt::format("<figure><img {} src=\"data:image/png;base64,{}\"><figcaption><small>{}"
                     "</small></figcaption></figure>\n",
                     imgAttributes, base64(readFile(png)), caption);
}

} // namespace

/// One line chart as inline SVG: each series a polyline over the visits'
/// weeks (visit order where weeks are unknown), points marked and labelled,
/// missing values leaving a gap. Vector, so it stays sharp when printed.
struct ChartSeries {
  std::string name;
  std::string colour;
  std::vector<std::optional<double>> values; ///< one per visit
};

std::string svgChart(const std::string& title, const std::vector<double>& x,
                     const std::vector<std::string>& labels, const std::vector<ChartSeries>& series,
                     double yMin, double yMax) {
  constexpr double kWidth = 320, kHeight = 200, kLeft = 46, kRight = 12, kTop = 24, kBottom = 34;
  const double xMin = x.empty() ? 0.0 : *std::min_element(x.begin(), x.end());
  const double xMax = x.empty() ? 1.0 : *std::max_element(x.begin(), x.end());
  const auto px = [&](double v) {
    return xMax > xMin ? kLeft + (v - xMin) / (xMax - xMin) * (kWidth - kLeft - kRight)
                       : 0.5 * (kLeft + kWidth - kRight);
  };
  const auto py = [&](double v) {
    return kHeight - kBottom - (v - yMin) / (yMax - yMin) * (kHeight - kTop - kBottom);
  };
  std::string svg = fmt::format("<svg class=\"chart\" width=\"{0}\" height=\"{1}\" "
                                "viewBox=\"0 0 {0} {1}\" role=\"img\" aria-label=\"{2}\">"
                                "<text x=\"{3}\" y=\"15\" font-size=\"13\">{2}</text>",
                                kWidth, kHeight, escape(title), kLeft);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{0}\" y2=\"{2}\" stroke=\"#888\"/>", kLeft,
                     kTop, kHeight - kBottom);
  svg += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#888\"/>", kLeft,
                     kHeight - kBottom, kWidth - kRight);
  for (double v : {yMin, 0.5 * (yMin + yMax), yMax}) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" "
                       "text-anchor=\"end\">{:g}</text>",
                       kLeft - 4, py(v) + 3, v);
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"10\" "
                       "text-anchor=\"middle\">{}</text>",
                       px(x[i]), kHeight - kBottom + 14, escape(labels[i]));
  }
  double legendX = kLeft;
  for (const ChartSeries& line : series) {
    std::string points;
    for (std::size_t i = 0; i < x.size() && i < line.values.size(); ++i) {
      if (!line.values[i]) {
        if (!points.empty()) {
          svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
                             "points=\"{}\"/>",
                             line.colour, points);
          points.clear();
        }
        continue;
      }
      const double cx = px(x[i]);
      const double cy = py(std::clamp(*line.values[i], yMin, yMax));
      points += fmt::format("{}{:.1f},{:.1f}", points.empty() ? "" : " ", cx, cy);
      svg +=
          fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\">"
                      "<title>{} {}: {:g}</title></circle>",
                      cx, cy, line.colour, escape(line.name), escape(labels[i]), *line.values[i]);
    }
    if (!points.empty()) {
      svg += fmt::format("<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"2\" "
                         "points=\"{}\"/>",
                         line.colour, points);
    }
    if (series.size() > 1) {
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" fill=\"{}\">{}</text>",
                         legendX, kHeight - 4, line.colour, escape(line.name));
      legendX += 7.0 * static_cast<double>(line.name.size()) + 10;
    }
  }
  svg += "</svg>";
  return svg;
}

std::optional<double> number(const Json& value) {
  return value.is_number() ? std::optional<double>(value.get<double>()) : std::nullopt;
}

/// Trajectories (report.json "trajectories"): mRUST, callus volume and each
/// cortex's bridged fraction per visit.
std::string trajectoryPlots(const Json& report) {
  if (!report.contains("trajectories") || !report["trajectories"].contains("visits") ||
      report["trajectories"]["visits"].size() < 2) {
    return {};
  }
  const Json& visits = report["trajectories"]["visits"];
  std::vector<double> x;
  std::vector<std::string> labels;
  bool weeksKnown = true;
  for (const Json& visit : visits) {
    weeksKnown = weeksKnown && visit.value("weeks", Json()).is_number();
  }
  for (std::size_t i = 0; i < visits.size(); ++i) {
    x.push_back(weeksKnown ? visits[i]["weeks"].get<double>() : static_cast<double>(i));
    labels.push_back(visits[i].value("label", std::string()));
  }
  ChartSeries mrust{"mRUST", "#1f5fa8", {}};
  ChartSeries volume{"callus mm3", "#a8531f", {}};
  double maxVolume = 0;
  for (const Json& visit : visits) {
    mrust.values.push_back(number(visit.value("mrust", Json())));
    volume.values.push_back(number(visit.value("callus_volume_mm3", Json())));
    maxVolume = std::max(maxVolume, volume.values.back().value_or(0.0));
  }
  const std::array<const char*, 4> colours{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"};
  std::vector<ChartSeries> bridged;
  for (Cortex cortex : kAllCortices) {
    const std::string key(cortexKey(cortex));
    ChartSeries line{key, colours[static_cast<std::size_t>(cortex)], {}};
    for (const Json& visit : visits) {
      const Json fractions = visit.value("bridged_fraction", Json());
      line.values.push_back(fractions.is_object() ? number(fractions.value(key, Json()))
                                                  : std::nullopt);
    }
    bridged.push_back(std::move(line));
  }
  std::string html = fmt::format("<h2>Trajectories</h2><p><small>Per visit{}; the change since "
                                 "the previous visit is in report.json.</small></p><p>",
                                 weeksKnown ? ", by weeks" : ", in visit order");
  html += svgChart("mRUST (4-16)", x, labels, {mrust}, 4, 16);
  html += svgChart("callus volume (mm\u00b3)", x, labels, {volume}, 0,
                   maxVolume > 0 ? maxVolume * 1.1 : 1.0);
  html += svgChart("bridged fraction per cortex", x, labels, bridged, 0, 1);
  html += "</p>\n";
  return html;
}

std::string htmlReport(const Json& report, const fs::path& outputDirectory) {
  std::string html = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">";
  html += fmt::format("<title>UnionScope report {}</title><style>{}</style></head><body>\n",
                      field(report, "patient_id"), kStyle);
  html += fmt::format("<h1>Fracture union: patient {}</h1>\n", field(report, "patient_id"));
  html += fmt::format("<p>Laterality: {} &middot; union reached at: {} &middot; {} {}</p>\n",
                      field(report, "laterality"), field(report, "union_timepoint"),
                      field(report["software"], "name"), field(report["software"], "version"));
  html += "<p><small>Suggested scores for a reader to check. Cortex cells: modified RUST "
          "category (1 no callus, 2 callus, 3 bridging, 4 remodelled) and, on CT, the bridged "
          "share of the cortex's circumference.</small></p>\n";

  html += "<table><tr><th>visit</th><th>weeks</th><th>study date</th>";
  for (Cortex cortex : kAllCortices) {
    html += fmt::format("<th>{}</th>", cortexKey(cortex));
  }
  html += "<th>RUST</th><th>mRUST</th><th>union</th><th>callus mm&sup3;</th>"
          "<th>callus mean HU</th><th>DICOM SR</th></tr>\n";
  for (const Json& tp : report["timepoints"]) {
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td>", field(tp, "label"),
                        field(tp, "weeks"), field(tp, "study_date"));
    for (Cortex cortex : kAllCortices) {
      html += tp["cortices"].is_object()
                  ? cortexCell(tp["cortices"][std::string(cortexKey(cortex))])
                  : "<td>&ndash;</td>";
    }
    Json volume = nullptr;
    Json meanHu = nullptr;
    for (const Json& series : tp["series"]) {
      if (series.contains("callus_volume_mm3") && volume.is_null()) {
        volume = series["callus_volume_mm3"];
        meanHu = series["callus_mean_hu"];
      }
    }
    html += fmt::format("<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                        field(tp, "rust"), field(tp, "mrust"), field(tp, "union"), show(volume),
                        show(meanHu), field(tp, "sr_file"));
  }
  html += "</table>\n";
  html += trajectoryPlots(report);
  html += embeddedFigure(outputDirectory / "images" / kViewerSnapshotImage,
                         "alt=\"visits in 3D\" style=\"max-width:100%\"",
                         "The visits in 3D (unionscope view): bone, callus coloured by density, "
                         "the four cortex arcs in their categories' colours, the fracture plane; "
                         "below, the CT through the fracture (callus tinted) and the "
                         "radiographs' overlays.");

  for (const Json& tp : report["timepoints"]) {
    html += fmt::format("<h2>{} ({})</h2>\n", field(tp, "label"), field(tp, "study_date"));
    for (const Json& series : tp["series"]) {
      html += fmt::format("<p>{} series: {}", field(series, "modality"), field(series, "status"));
      if (series.contains("error") && !series["error"].is_null()) {
        html += fmt::format(" <span class=\"notes\">{}</span>", show(series["error"]));
      }
      html += "</p>\n";
      if (series.contains("notes")) {
        for (const Json& note : series["notes"]) {
          html += fmt::format("<p class=\"notes\">{}</p>\n", show(note));
        }
      }
      if (series.contains("explanation_image") && series["explanation_image"].is_string()) {
        html += embeddedFigure(
            outputDirectory / "images" / series["explanation_image"].get<std::string>(),
            "alt=\"unrolled cortex\"",
            "Unrolled cortex around the fracture (proximal at the top): fracture line in orange; "
            "strip above, per angle: green bridged, red not, grey not assessable; A P M L mark "
            "the cortices.");
      }
    }
    if (tp.contains("notes")) {
      for (const Json& note : tp["notes"]) {
        html += fmt::format("<p class=\"notes\">{}</p>\n", show(note));
      }
    }
    // Longitudinal: how this visit's CT lines up with the first CT visit.
    if (tp.contains("registration") && tp["registration"].is_object()) {
      const Json& r = tp["registration"];
      if (r.value("status", "") == "ok") {
        html += fmt::format("<p class=\"notes\">Registered to {}: rotation {} deg, bone centre "
                            "moved {} mm (LPS); transform {}{}.</p>\n",
                            show(r["reference"]), show(r["rotation_deg"]),
                            show(r["translation_mm"]), show(r["transform_file"]),
                            r.value("converged", false) ? "" : " (did not converge)");
      } else {
        html += fmt::format("<p class=\"notes\">Not registered to {}: {}</p>\n",
                            show(r["reference"]), show(r["error"]));
      }
    }
  }
  html += "</body></html>\n";
  return html;
}

} // namespace unionscope
