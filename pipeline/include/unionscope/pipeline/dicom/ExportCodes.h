#pragma once
// Every code the DICOM export writes, in one place. DICOM (DCM), SNOMED CT
// (SCT) and UCUM codes where the standard has one; the rest under the private
// coding scheme designator kPrivateScheme (PS3.3 8.2: a "99" prefix marks a
// private scheme), with meanings that say what the value is.

#include "unionscope/pipeline/dicom/DicomWriter.h"

namespace unionscope::dicom::codes {

inline constexpr const char* kPrivateScheme = "99UNIONSCOPE";

// --- SR measurement report (TID 1500) ---------------------------------------
/// Finding of every measurement group (SNOMED CT "Fracture", morphology).
inline const CodedConcept kFracture{"72704001", "SCT", "Fracture"};
/// Finding site of a cortex group: bone, with the cortex as site modifier.
inline const CodedConcept kBone{"272673000", "SCT", "Bone"};
inline const CodedConcept kAnterior{"255549009", "SCT", "Anterior"};
inline const CodedConcept kPosterior{"255551008", "SCT", "Posterior"};
inline const CodedConcept kMedial{"255561001", "SCT", "Medial"};
inline const CodedConcept kLateral{"49370004", "SCT", "Lateral"};
/// Answers of yes/no evaluations (PS3.16 CID 230).
inline const CodedConcept kYes{"373066001", "SCT", "Yes"};
inline const CodedConcept kNo{"373067005", "SCT", "No"};

/// Modified RUST category of one cortex (Litrenta et al. 2015), and its four values.
inline const CodedConcept kCortexCategory{"MRUST-CORTEX", kPrivateScheme,
                                          "Modified RUST cortex category"};
inline const CodedConcept kCategory1{"MRUST-1", kPrivateScheme, "No callus"};
inline const CodedConcept kCategory2{"MRUST-2", kPrivateScheme, "Callus, fracture line visible"};
inline const CodedConcept kCategory3{"MRUST-3", kPrivateScheme,
                                     "Bridging callus, fracture line visible"};
inline const CodedConcept kCategory4{"MRUST-4", kPrivateScheme,
                                     "Remodelled, fracture line not visible"};
/// A cortex is bridged when its category is 3 or 4 (answer: kYes or kNo).
inline const CodedConcept kCortexBridged{"CORTEX-BRIDGED", kPrivateScheme, "Cortex bridged"};
/// Share of the cortex's circumference that bridges on CT, 0..1 (unit: UCUM "1").
inline const CodedConcept kBridgedFraction{"BRIDGED-FRACTION", kPrivateScheme,
                                           "Bridged fraction of cortex circumference"};
/// Why a cortex has no category (text).
inline const CodedConcept kNotAssessable{"NOT-ASSESSABLE", kPrivateScheme, "Reason not assessable"};
/// Scores of the visit (Whelan et al. 2010; Litrenta et al. 2015) and the union rule.
inline const CodedConcept kRust{"RUST", kPrivateScheme, "RUST score"};
inline const CodedConcept kModifiedRust{"MRUST", kPrivateScheme, "Modified RUST score"};
inline const CodedConcept kUnion{"UNION", kPrivateScheme, "Radiographic union"};
/// Finding of the callus group.
inline const CodedConcept kCallusFinding{"CALLUS", kPrivateScheme, "Fracture callus"};

// --- SEG segments (PS3.16 CID 7150 categories) ---------------------------------
inline const CodedConcept kTissueCategory{"85756007", "SCT", "Tissue"};
inline const CodedConcept kMorphologicallyAlteredCategory{"49755003", "SCT",
                                                          "Morphologically Altered Structure"};
inline const CodedConcept kPhysicalObjectCategory{"260787004", "SCT", "Physical object"};
inline const CodedConcept kMetal{"METAL", kPrivateScheme, "Metal (implant)"};

} // namespace unionscope::dicom::codes
