#pragma once
// The longitudinal part of `analyze` (DESIGN.md data flow step 4): every
// later CT visit registered rigidly to the first CT visit, the transforms in
// DIR/registration/, and the trajectories of the scores over the visits.
// Internal to pipeline/: Analyze.cpp calls it.

#include "unionscope/filters/RigidRegistration.h"
#include "unionscope/pipeline/Analyze.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace unionscope {

/// Where the transforms go, relative to the output folder.
inline constexpr const char* kRegistrationOutputFolder = "registration";

/// The first CT visit: what the later ones are registered to.
struct RegistrationReference {
  std::string label;
  std::string seriesInstanceUid;
  CtImage::Pointer volume;
  std::optional<FracturePlane> fracture; ///< its fracture plane, when one was found
};

/// Registers `followUp` (the visit's analysed CT series) to the reference,
/// writes DIR/registration/<label>.tfm (ITK transform file) and <label>.json
/// (the same as a 4x4 LPS matrix, with the metric and parameters), and sets
/// timepoint["registration"]. On failure that entry has "status": "failed"
/// and the reason in "error", and the failure is counted. Never throws: the
/// visit's scores stand either way.
void registerVisit(nlohmann::ordered_json& timepoint, const RegistrationReference& reference,
                   const CtImage& followUp, const AnalyzeOptions& options, AnalyzeOutcome& outcome);

/// Per visit (in time order) the bridged fraction per cortex, the callus
/// volume and mRUST, and the change of each since the previous visit
/// (null where either visit has no value).
nlohmann::ordered_json trajectoriesJson(const nlohmann::ordered_json& timepoints);

/// The registration's parameters, for audit.json.
nlohmann::ordered_json registrationParametersJson(const RigidRegistrationParameters& parameters);

} // namespace unionscope
