#include "unionscope/pipeline/Reads.h"

#include "DicomOutputs.h"
#include "JsonFile.h"
#include "unionscope/pipeline/Audit.h"
#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/OutputFiles.h"
#include "unionscope/pipeline/Version.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <map>
#include <regex>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

Json category(const std::optional<int>& value) {
  return value ? Json(*value) : Json(nullptr);
}

std::optional<int> categoryFrom(const Json& value, const fs::path& file, const std::string& where) {
  if (value.is_null()) {
    return std::nullopt;
  }
  if (!value.is_number_integer() || value.get<int>() < 1 || value.get<int>() > 4) {
    throw UsageError(fmt::format("{}: {} must be a category 1..4 or null, not {}", file.string(),
                                 where, value.dump()));
  }
  return value.get<int>();
}

/// reads/<stem>.json for version 1, reads/<stem>.v<N>.json after it.
std::string versionedStem(const std::string& stem, int version) {
  return version == 1 ? stem : fmt::format("{}.v{}", stem, version);
}

Json readJsonOf(const ReaderRead& read) {
  Json visits = Json::array();
  for (const VisitRead& visit : read.visits) {
    Json cortices = Json::object();
    CortexScores scores;
    for (Cortex cortex : kAllCortices) {
      const CortexRead& c = visit.cortices[static_cast<std::size_t>(cortex)];
      cortices[std::string(cortexKey(cortex))] = {
          {"algorithm", category(c.algorithm)},
          {"reader", category(c.reader)},
          {"decision", c.changed() ? "changed" : "accepted"}};
      if (c.reader) {
        scores[static_cast<std::size_t>(cortex)].category = static_cast<CortexCategory>(*c.reader);
      } else {
        scores[static_cast<std::size_t>(cortex)].notAssessable = "reader";
      }
    }
    const UnionScores union_ = computeUnionScores(scores);
    visits.push_back({{"label", visit.label},
                      {"cortices", cortices},
                      {"rust", category(union_.rust)},
                      {"mrust", category(union_.mrust)},
                      {"union", union_.union_ ? Json(*union_.union_) : Json(nullptr)},
                      {"sr_file", visit.srFile.empty() ? Json(nullptr) : Json(visit.srFile)}});
  }
  return {{"schema", "unionscope.read/1"},
          {"reader", read.reader},
          {"organization", read.organization},
          {"signed_utc", read.signedUtc},
          {"version", read.version},
          {"report_sha256", read.reportSha256},
          {"software", {{"name", kSoftwareName}, {"version", kVersion}}},
          {"visits", visits}};
}

/// 2026-11-23T06:05:34Z -> 20261123060534
std::string dicomDateTime(const std::string& iso) {
  std::string digits;
  for (char c : iso) {
    if (std::isdigit(static_cast<unsigned char>(c)) != 0) {
      digits += c;
    }
  }
  if (digits.size() < 14) {
    throw UsageError(fmt::format("'{}' is not a UTC time as YYYY-MM-DDTHH:MM:SSZ", iso));
  }
  return digits.substr(0, 14);
}

} // namespace

ReaderRead startRead(const AnalysedPatient& patient, const std::string& reader) {
  ReaderRead read;
  read.reader = reader;
  read.reportSha256 = patient.reportSha256;
  for (const AnalysedVisit& visit : patient.visits) {
    VisitRead v;
    v.label = visit.label;
    for (std::size_t c = 0; c < 4; ++c) {
      v.cortices[c].algorithm = visit.cortices[c].category;
      v.cortices[c].reader = visit.cortices[c].category;
    }
    read.visits.push_back(v);
  }
  return read;
}

void applyAssignment(ReaderRead& read, std::string_view assignment) {
  static const std::regex kForm(R"(^([^:]+):([a-z]+)=(1|2|3|4|na|accept)$)");
  const std::string text(assignment);
  std::smatch match;
  if (!std::regex_match(text, match, kForm)) {
    throw UsageError(fmt::format("'{}' is not LABEL:CORTEX=CATEGORY (for example "
                                 "W12:anterior=3; category 1..4, na or accept)",
                                 text));
  }
  const auto cortex = cortexFromKey(match[2].str());
  if (!cortex) {
    throw UsageError(
        fmt::format("'{}': the cortex must be anterior, posterior, medial or lateral", text));
  }
  const auto visit = std::find_if(read.visits.begin(), read.visits.end(),
                                  [&](const VisitRead& v) { return v.label == match[1].str(); });
  if (visit == read.visits.end()) {
    std::string labels;
    for (const VisitRead& v : read.visits) {
      labels += (labels.empty() ? "" : ", ") + v.label;
    }
    throw UsageError(
        fmt::format("'{}': no visit '{}' (the visits are {})", text, match[1].str(), labels));
  }
  CortexRead& c = visit->cortices[static_cast<std::size_t>(*cortex)];
  const std::string value = match[3].str();
  c.reader = value == "na"       ? std::nullopt
             : value == "accept" ? c.algorithm
                                 : std::optional<int>(std::stoi(value));
}

std::string readerFileStem(const std::string& reader) {
  std::string stem;
  for (char c : reader) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 && u < 0x80) {
      stem += static_cast<char>(std::tolower(u));
    } else if (!stem.empty() && stem.back() != '_') {
      stem += '_';
    }
  }
  while (!stem.empty() && stem.back() == '_') {
    stem.pop_back();
  }
  stem = stem.substr(0, 48);
  if (stem.empty()) {
    throw UsageError(fmt::format("the reader's name '{}' has no letters or digits to name the "
                                 "read's file by",
                                 reader));
  }
  return stem;
}

SavedRead saveRead(const AnalysedPatient& patient, ReaderRead& read,
                   const SaveReadOptions& options) {
  if (read.reader.find_first_not_of(" \t") == std::string::npos) {
    throw UsageError("a read must be signed with the reader's name");
  }
  const std::string stem = readerFileStem(read.reader);
  const fs::path folder = patient.directory / kReadsFolder;
  read.version = 1;
  while (fs::exists(folder / (versionedStem(stem, read.version) + ".json"))) {
    if (!options.amend) {
      throw UsageError(fmt::format(
          "{}: {} has signed a read of this patient already; a signed read is never overwritten "
          "(--amend saves this one beside it as the next version)",
          (folder / (versionedStem(stem, read.version) + ".json")).string(), read.reader));
    }
    ++read.version;
  }
  read.signedUtc = options.signedUtc.empty() ? utcTimestampNow() : options.signedUtc;
  read.reportSha256 = patient.reportSha256;
  const std::string dateTime = dicomDateTime(read.signedUtc);
  const std::string fileStem = versionedStem(stem, read.version);

  SavedRead saved;
  for (VisitRead& visit : read.visits) {
    visit.srFile.clear();
    if (!options.writeDicom) {
      continue;
    }
    const auto analysed =
        std::find_if(patient.visits.begin(), patient.visits.end(),
                     [&](const AnalysedVisit& v) { return v.label == visit.label; });
    if (analysed == patient.visits.end() || analysed->srFile.empty() ||
        !fs::is_regular_file(analysed->srFile)) {
      saved.notes.push_back(fmt::format("visit {}: no SR of the read (the algorithm's SR of the "
                                        "visit, which it answers, is not in DIR/dicom/)",
                                        visit.label));
      continue;
    }
    ReaderVisitExport exportRequest;
    exportRequest.label = visit.label;
    exportRequest.laterality = patient.laterality;
    for (std::size_t c = 0; c < 4; ++c) {
      exportRequest.categories[c] = visit.cortices[c].reader;
    }
    exportRequest.reader = read.reader;
    exportRequest.organization = read.organization;
    exportRequest.signedDicomDateTime = dateTime;
    exportRequest.algorithmSr = analysed->srFile;
    exportRequest.identity =
        fmt::format("{}|{}|{}|{}", read.reader, read.version, read.signedUtc, patient.reportSha256);
    exportRequest.seriesNumber = 2000 + read.version;
    const std::string relative =
        fmt::format("{}/{}_{}_SR.dcm", kReadsFolder, fileStem, fileSafe(visit.label));
    try {
      writeReaderVisitReport(exportRequest, patient.directory / relative);
      visit.srFile = relative;
      saved.srFiles.push_back(patient.directory / relative);
    } catch (const std::exception& error) {
      saved.notes.push_back(fmt::format("visit {}: SR not written: {}", visit.label, error.what()));
    }
  }
  saved.json = folder / (fileStem + ".json");
  writeFileAtomically(saved.json, readJsonOf(read).dump(2) + "\n");
  return saved;
}

ReaderRead loadRead(const fs::path& file) {
  const Json json = readJsonFile<Json>(file);
  if (!json.is_object() || json.value("schema", "") != "unionscope.read/1" ||
      !json.contains("reader") || !json["reader"].is_string() || !json.contains("visits") ||
      !json["visits"].is_array()) {
    throw UsageError(
        fmt::format("{}: not a unionscope.read/1 read (schema, reader, visits)", file.string()));
  }
  ReaderRead read;
  try {
    read.reader = json["reader"].get<std::string>();
    read.organization = json.value("organization", "");
    read.signedUtc = json.value("signed_utc", "");
    read.version = json.value("version", 1);
    read.reportSha256 = json.value("report_sha256", "");
    for (const Json& v : json["visits"]) {
      VisitRead visit;
      visit.label = v.at("label").get<std::string>();
      for (Cortex cortex : kAllCortices) {
        const std::string key(cortexKey(cortex));
        const Json& c = v.at("cortices").at(key);
        const std::string where = fmt::format("visit {} {}", visit.label, key);
        visit.cortices[static_cast<std::size_t>(cortex)] = {
            categoryFrom(c.at("algorithm"), file, where + " algorithm"),
            categoryFrom(c.at("reader"), file, where + " reader")};
      }
      visit.srFile = v.contains("sr_file") && v["sr_file"].is_string()
                         ? v["sr_file"].get<std::string>()
                         : std::string();
      read.visits.push_back(visit);
    }
  } catch (const Json::exception& error) {
    throw UsageError(fmt::format("{}: not a complete read ({})", file.string(), error.what()));
  }
  return read;
}

std::vector<ReaderRead> loadLatestReads(const fs::path& directory) {
  const fs::path folder = directory / kReadsFolder;
  std::map<std::string, ReaderRead> latest;
  if (!fs::is_directory(folder)) {
    return {};
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) {
    if (entry.is_regular_file() && entry.path().extension() == ".json") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    ReaderRead read = loadRead(file);
    // One reader per file name: how the same reader's versions are found.
    const std::string key = readerFileStem(read.reader);
    const auto found = latest.find(key);
    if (found == latest.end() || found->second.version < read.version) {
      latest[key] = std::move(read);
    }
  }
  std::vector<ReaderRead> reads;
  for (auto& [name, read] : latest) {
    reads.push_back(std::move(read));
  }
  return reads;
}

} // namespace unionscope
