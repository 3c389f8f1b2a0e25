#pragma once
// An analysed patient's output folder (DIR of `unionscope analyze`) read
// back as the result model the viewer, the reader's read and the agreement
// statistics work from. Volumes are not loaded here (they can be large):
// their files are named, and ResultVolumes.h reads them.

#include "unionscope/filters/Scores.h"

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope {

/// One cortex as the algorithm scored it.
struct CortexCall {
  std::optional<int> category; ///< 1..4; empty: not assessable
  std::string notAssessable;
  std::optional<double> bridgedFraction;
};

struct RadiographPicture {
  std::string view;              ///< "AP", "LAT" or "" when unknown
  std::filesystem::path overlay; ///< absolute; may not exist
};

/// 4x4 row-major homogeneous matrix, LPS mm.
using Matrix4 = std::array<double, 16>;
inline constexpr Matrix4 kIdentity4{1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};

struct AnalysedVisit {
  std::string label;
  std::optional<double> weeks;
  std::string studyInstanceUid;
  std::array<CortexCall, 4> cortices; ///< indexed by Cortex; the visit's combined scores
  bool scored = false;                ///< the visit has combined scores at all
  std::optional<int> rust;
  std::optional<int> mrust;
  std::optional<bool> unionReached;
  // The visit's (first analysed) CT series.
  std::string ctSeriesInstanceUid;
  std::optional<double> callusVolumeMm3;
  std::optional<double> callusMeanHu;
  bool fractureFound = false;
  std::array<double, 3> fractureCentre{};        ///< LPS mm
  std::array<double, 3> fractureNormal{0, 0, 1}; ///< of the fracture plane
  std::array<double, 3> shaftAxis{0, 0, 1};      ///< unit, toward the head
  std::filesystem::path labelMapFile;            ///< absolute; empty when none was written
  std::filesystem::path ctFile;                  ///< absolute; empty when none was written
  std::vector<RadiographPicture> radiographs;
  std::filesystem::path srFile; ///< the algorithm's SR of the visit; empty when none
  /// Maps this visit's LPS points into the registered (first CT visit's)
  /// frame: the inverse of the registration's transform when report.json has
  /// one with status "ok" for the visit (the "matrix_lps" of
  /// registration/<label>.json beside the .tfm it names), else the identity.
  Matrix4 toReference = kIdentity4;
  std::string registeredTo; ///< label of the reference visit; empty: not registered
};

struct AnalysedPatient {
  std::filesystem::path directory;
  std::string laterality = "unknown";
  std::vector<AnalysedVisit> visits;
  std::string reportSha256; ///< of report.json, so a read names what it read
};

/// Reads DIR/report.json (schema unionscope.report/1). Throws UsageError
/// naming the folder or file when it is missing, unreadable or not a report.
AnalysedPatient loadAnalysedPatient(const std::filesystem::path& directory);

/// The matrix of a registration file (DIR/registration/<label>.json,
/// "matrix_lps": reference -> follow-up), inverted: follow-up -> reference.
/// Throws std::runtime_error naming the file.
Matrix4 readRegistrationToReference(const std::filesystem::path& file);

} // namespace unionscope
