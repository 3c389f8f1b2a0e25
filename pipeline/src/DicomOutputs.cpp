#include "DicomOutputs.h"

#include "unionscope/pipeline/Version.h"
#include "unionscope/pipeline/dicom/UidFactory.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

namespace unionscope {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

/// `content` without where the inputs lie on disk ("source_files"), at any
/// depth: moving the input folder does not change what is reported.
Json withoutPaths(Json content) {
  if (content.is_object()) {
    content.erase("source_files");
    for (auto& [key, value] : content.items()) {
      value = withoutPaths(value);
    }
  } else if (content.is_array()) {
    for (Json& value : content) {
      value = withoutPaths(value);
    }
  }
  return content;
}

/// UIDs of an output: a function of the software version and of the values
/// it carries, so the same input gives the same UIDs and changed results
/// never reuse a UID.
dicom::UidFactory uidsFor(const std::string& identity, const Json& content) {
  return dicom::UidFactory(dicom::UidFactory::seedOf(
      fmt::format("{}|{}|{}", kVersion, identity, withoutPaths(content).dump())));
}

/// The source image behind each slice of the loaded volume: the slice itself,
/// or for a resampled volume the original slice nearest to it.
std::vector<dicom::DicomFileHeader> sliceSources(const dicom::SeriesGroup& series,
                                                 const dicom::CtVolumePlan& plan) {
  std::map<fs::path, const dicom::DicomFileHeader*> byPath;
  for (const dicom::DicomFileHeader& h : series.instances) {
    byPath[h.path] = &h;
  }
  std::vector<dicom::DicomFileHeader> sources;
  const double start = plan.slices.front().distance;
  for (int k = 0; k < plan.outputSlices; ++k) {
    const double d = start + k * plan.sliceSpacing;
    const auto nearest =
        std::min_element(plan.slices.begin(), plan.slices.end(), [&](const auto& a, const auto& b) {
          return std::abs(a.distance - d) < std::abs(b.distance - d);
        });
    const auto found = byPath.find(nearest->file);
    if (found == byPath.end()) {
      throw std::runtime_error(nearest->file.string() + ": not among the series' files");
    }
    sources.push_back(*found->second);
  }
  return sources;
}

std::optional<double> optionalNumber(const Json& object, const char* key) {
  return object.contains(key) && object[key].is_number() ? std::optional(object[key].get<double>())
                                                         : std::nullopt;
}

/// Writes through a temporary name: a reader never sees half a file. Errors
/// name the file asked for, not the temporary one.
template <typename Write> void writeAtomically(const fs::path& file, Write&& write) {
  const std::string temporary = file.string() + ".tmp";
  try {
    write(fs::path(temporary));
    fs::rename(temporary, file);
  } catch (const std::exception& error) {
    std::error_code ignored;
    fs::remove(temporary, ignored);
    std::string message = error.what();
    for (auto at = message.find(temporary); at != std::string::npos;
         at = message.find(temporary, at + 1)) {
      message.replace(at, temporary.size(), file.string());
    }
    throw std::runtime_error(message);
  }
}

} // namespace

std::string fileSafe(const std::string& text) {
  std::string safe = text;
  for (char& c : safe) {
    const bool keep =
        std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    c = keep ? c : '_';
  }
  return safe.empty() ? "_" : safe;
}

dicom::CallusEntry writeSeriesSegmentation(const dicom::SeriesGroup& series,
                                           const dicom::CtVolumePlan& plan,
                                           const CtAnalysisResult& result, const Json& seriesJson,
                                           const fs::path& outputDirectory,
                                           const std::string& label, const std::string& stem,
                                           std::string& relativeFile,
                                           const std::optional<dicom::Deidentification>& deid) {
  const int seriesNumber = series.seriesNumber.value_or(0);
  relativeFile = fmt::format("{}/{}_SEG.dcm", kDicomOutputFolder, stem);
  if (!result.labels) {
    throw std::runtime_error(fmt::format("{}: no label map (no fracture found)", relativeFile));
  }
  const dicom::UidFactory uids = uidsFor("seg/" + series.seriesInstanceUid, seriesJson);
  dicom::SegmentationRequest request;
  request.labels = result.labels.GetPointer();
  request.sliceSources = sliceSources(series, plan);
  request.seriesInstanceUid = uids.uid("series");
  request.sopInstanceUid = uids.uid("instance");
  request.dimensionOrganizationUid = uids.uid("dimension-organization");
  // Derived series number out of the way of the scanner's (a convention, not a rule).
  request.seriesNumber = 1000 + seriesNumber;
  request.seriesDescription = fmt::format("UnionScope bone, callus, metal {}", label);
  request.deidentification = deid;
  const auto start = std::chrono::steady_clock::now();
  dicom::SegmentationSummary summary;
  writeAtomically(outputDirectory / relativeFile,
                  [&](const fs::path& file) { summary = dicom::writeSegmentation(request, file); });
  spdlog::debug(
      "{}: {} bone, {} callus, {} metal frames in {:.0f} ms", relativeFile, summary.frames[0],
      summary.frames[1], summary.frames[2],
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());

  dicom::CallusEntry callus;
  callus.ctSeriesInstanceUid = series.seriesInstanceUid;
  callus.ctSeriesNumber = seriesNumber;
  callus.volumeMm3 = seriesJson.at("callus_volume_mm3").get<double>();
  callus.meanHu = seriesJson.at("callus_mean_hu").get<double>();
  callus.segSopInstanceUid = request.sopInstanceUid;
  callus.segSeriesInstanceUid = request.seriesInstanceUid;
  return callus;
}

std::string writeVisitReport(const Json& timepoint, const VisitExport& visit,
                             const fs::path& outputDirectory) {
  const std::string label = timepoint.at("label").get<std::string>();
  const std::string relativeFile = fmt::format("{}/{}_SR.dcm", kDicomOutputFolder, fileSafe(label));
  const dicom::UidFactory uids =
      uidsFor("sr/" + timepoint.at("study_instance_uid").get<std::string>(), timepoint);
  dicom::MeasurementReportRequest request;
  request.timepointLabel = label;
  request.laterality = visit.laterality;
  for (Cortex cortex : kAllCortices) {
    const Json& c = timepoint.at("cortices").at(std::string(cortexKey(cortex)));
    dicom::CortexEntry& entry = request.cortices[static_cast<std::size_t>(cortex)];
    if (c.at("category").is_number()) {
      entry.category = c["category"].get<int>();
    } else {
      entry.notAssessable = c.value("not_assessable", std::string("not assessable"));
    }
    entry.bridgedFraction = optionalNumber(c, "bridged_fraction");
  }
  if (timepoint.at("rust").is_number()) {
    request.rust = timepoint["rust"].get<int>();
  }
  if (timepoint.at("mrust").is_number()) {
    request.mrust = timepoint["mrust"].get<int>();
  }
  if (timepoint.at("union").is_boolean()) {
    request.unionReached = timepoint["union"].get<bool>();
  }
  request.callus = visit.callus;
  request.sourceImages = visit.images;
  request.seriesInstanceUid = uids.uid("series");
  request.sopInstanceUid = uids.uid("instance");
  request.trackingUidPrefix = uids.uid("tracking");
  // One device: the same UID for every report of this software.
  request.deviceObserverUid =
      dicom::UidFactory(dicom::UidFactory::seedOf(kSoftwareName)).uid("device-observer");
  request.seriesNumber = 999;
  request.deidentification = visit.deidentification;
  writeAtomically(outputDirectory / relativeFile,
                  [&](const fs::path& file) { dicom::writeMeasurementReport(request, file); });
  return relativeFile;
}

void writeReaderVisitReport(const ReaderVisitExport& visit, const fs::path& file) {
  const dicom::UidFactory uids = dicom::UidFactory(dicom::UidFactory::seedOf(
      fmt::format("{}|read|{}|{}", kVersion, visit.identity, visit.label)));
  dicom::MeasurementReportRequest request;
  request.timepointLabel = visit.label;
  request.laterality = visit.laterality;
  CortexScores scores;
  for (Cortex cortex : kAllCortices) {
    const auto c = static_cast<std::size_t>(cortex);
    dicom::CortexEntry& entry = request.cortices[c];
    entry.category = visit.categories[c];
    if (!entry.category) {
      entry.notAssessable = "not assessable (reader)";
      scores[c].notAssessable = entry.notAssessable;
    } else {
      scores[c].category = static_cast<CortexCategory>(*entry.category);
    }
  }
  const UnionScores union_ = computeUnionScores(scores);
  request.rust = union_.rust;
  request.mrust = union_.mrust;
  request.unionReached = union_.union_;
  request.basedOnReport = visit.algorithmSr;
  request.personObserver = dicom::MeasurementReportRequest::PersonObserver{
      visit.reader, visit.organization, visit.signedDicomDateTime};
  request.seriesInstanceUid = uids.uid("series");
  request.sopInstanceUid = uids.uid("instance");
  request.trackingUidPrefix = uids.uid("tracking");
  request.seriesNumber = visit.seriesNumber;
  request.seriesDescription = fmt::format("UnionScope reader's read {}", visit.label);
  writeAtomically(
      file, [&](const fs::path& temporary) { dicom::writeMeasurementReport(request, temporary); });
}

dicom::Deidentification deidentificationFor(const std::string& patientId, const std::string& secret,
                                            const std::optional<std::string>& pseudonym,
                                            const std::optional<long>& dateShiftDays) {
  const std::uint64_t key = dicom::UidFactory::seedOf(fmt::format("{}|{}", secret, patientId));
  dicom::Deidentification how;
  how.pseudonym = pseudonym.value_or(fmt::format("ANON-{:010X}", key & 0xFFFFFFFFFFULL));
  // Back by 1 to 10 years: whole days keep weekdays' spacing and intervals exact.
  how.dateShiftDays = dateShiftDays.value_or(-365 - static_cast<long>((key >> 40U) % (9 * 365)));
  how.uidSecret = fmt::format("{}|uids|{}", secret, patientId);
  return how;
}

} // namespace unionscope
