#pragma once
// A radiologist's signed read of an analysed patient: per visit and cortex
// the algorithm's category and the reader's (accepted or changed), saved to
// DIR/reads/<reader>.json with the time of signing and, per visit, a DICOM
// SR TID 1500 with the reader as person observer (DIR/reads/..._SR.dcm).
// The algorithm's report.json and dicom/ are never touched; another reader's
// read goes beside the first, and the same reader's second read becomes a
// new version, never an overwrite. The interactive viewer and the scripted
// `unionscope read` both save through saveRead().

#include "unionscope/pipeline/AnalysedPatient.h"

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace unionscope {

/// Where reads go, relative to the output folder.
inline constexpr const char* kReadsFolder = "reads";

struct CortexRead {
  std::optional<int> algorithm; ///< 1..4; empty: the algorithm could not assess it
  std::optional<int> reader;    ///< 1..4; empty: the reader says not assessable
  [[nodiscard]] bool changed() const { return algorithm != reader; }
};

struct VisitRead {
  std::string label;
  std::array<CortexRead, 4> cortices; ///< indexed by Cortex
  std::string srFile;                 ///< relative to DIR; empty when none was written
};

struct ReaderRead {
  std::string reader;       ///< the name the reader signs with
  std::string organization; ///< optional
  std::string signedUtc;    ///< ISO 8601 UTC, set when saved
  int version = 1;          ///< 1, then 2, 3 ... for the same reader's later reads
  std::string reportSha256; ///< report.json the read was made against
  std::vector<VisitRead> visits;
};

/// A read that accepts every category the algorithm gave.
ReaderRead startRead(const AnalysedPatient& patient, const std::string& reader);

/// Applies "LABEL:CORTEX=CATEGORY" (for example "W12:anterior=3"; category
/// 1..4, or "na" for not assessable, or "accept" for the algorithm's).
/// Throws UsageError naming what is wrong.
void applyAssignment(ReaderRead& read, std::string_view assignment);

/// The reader's name as a file name: letters and digits kept, runs of
/// anything else one '_', lower case, at most 48 characters. Throws
/// UsageError when nothing is left.
std::string readerFileStem(const std::string& reader);

struct SaveReadOptions {
  /// The same reader has a read already: save this one as the next version
  /// beside it. Without it such a save is refused.
  bool amend = false;
  bool writeDicom = true; ///< an SR per visit (needs the algorithm's SR of the visit)
  std::string signedUtc;  ///< empty: now
};

struct SavedRead {
  std::filesystem::path json;
  std::vector<std::filesystem::path> srFiles;
  std::vector<std::string> notes; ///< SRs not written, and why
};

/// Signs and saves. Throws UsageError when the read would overwrite one
/// (without `amend`) or names no reader; std::runtime_error naming the file
/// when it cannot be written.
SavedRead saveRead(const AnalysedPatient& patient, ReaderRead& read,
                   const SaveReadOptions& options = {});

/// Reads one reads/*.json. Throws UsageError naming the file when it is
/// unreadable or not a unionscope.read/1 file.
ReaderRead loadRead(const std::filesystem::path& file);

/// The latest version of every reader's read in DIR/reads/, a reader being
/// known by readerFileStem() of their name (sorted by it).
std::vector<ReaderRead> loadLatestReads(const std::filesystem::path& directory);

} // namespace unionscope
