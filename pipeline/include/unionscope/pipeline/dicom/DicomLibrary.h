#pragma once
// Process-wide DCMTK settings, set once by the front end.

namespace unionscope::dicom {

/// DCMTK logs parser warnings to stderr by default; UnionScope reports every
/// problem itself, with the file name, so DCMTK stays quiet unless asked.
void configureDicomLogging(bool verbose);

/// Builds DCMTK's structured-report code lists (its "context groups"), once
/// per process; safe from any thread. DCMTK builds each list on first use
/// without a lock, so two reports written at once could corrupt one or read
/// it half-filled.
void prepareDicomToolkitForConcurrentUse();

} // namespace unionscope::dicom
