#pragma once
// Process-wide DCMTK settings, set once by the front end.

namespace unionscope::dicom {

/// DCMTK logs parser warnings to stderr by default; UnionScope reports every
/// problem itself, with the file name, so DCMTK stays quiet unless asked.
void configureDicomLogging(bool verbose);

} // namespace unionscope::dicom
