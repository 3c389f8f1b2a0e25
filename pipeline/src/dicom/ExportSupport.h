#pragma once
// Helpers shared by the SEG and SR writers (internal to pipeline/dicom).

#include "unionscope/pipeline/Errors.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

namespace unionscope::dicom {

/// Turns a failed DCMTK call into a DicomError naming the file, what was
/// being written and the step.
class ExportChecker {
public:
  ExportChecker(const std::filesystem::path& file, const char* what) : file_(file), what_(what) {}
  void operator()(const OFCondition& status, const std::string& step) const {
    if (status.bad()) {
      throw DicomError(fmt::format("{}: cannot write the {} ({}): {}", file_.string(), what_, step,
                                   status.text()));
    }
  }

  [[nodiscard]] std::string file() const { return file_.string(); }

private:
  const std::filesystem::path& file_;
  const char* what_;
};

/// A source image's header; values longer than 4 kB (pixel data) stay on disk.
inline std::unique_ptr<DcmFileFormat> loadSourceHeader(const std::filesystem::path& source) {
  auto file = std::make_unique<DcmFileFormat>();
  const OFCondition status =
      file->loadFile(OFFilename(source.c_str()), EXS_Unknown, EGL_noChange, 4096);
  if (status.bad()) {
    throw DicomError(
        fmt::format("{}: cannot read the source image: {}", source.string(), status.text()));
  }
  return file;
}

/// Study Date and Time of the source, for every date the export writes (no
/// clock: reruns give the same bytes). A source without them gets a fixed
/// placeholder rather than today's date.
struct SourceDates {
  OFString date = "19000101";
  OFString time = "000000";
};
inline SourceDates sourceDates(DcmItem& source) {
  SourceDates dates;
  OFString value;
  if (source.findAndGetOFString(DCM_StudyDate, value).good() && !value.empty()) {
    dates.date = value;
  }
  if (source.findAndGetOFString(DCM_StudyTime, value).good() && !value.empty()) {
    dates.time = value;
  }
  return dates;
}

/// Saves as explicit VR little endian with a new meta header.
inline OFCondition saveExport(DcmFileFormat& file, const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  return file.saveFile(OFFilename(path.c_str()), EXS_LittleEndianExplicit, EET_ExplicitLength,
                       EGL_recalcGL, EPD_noChange, 0, 0, EWM_createNewMeta);
}

} // namespace unionscope::dicom
