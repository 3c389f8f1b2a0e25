#pragma once
// Typed errors at the pipeline's boundaries. Each message names what failed
// (file, series, study, patient) and why, in words a user can act on.

#include <stdexcept>
#include <string>

namespace unionscope {

/// Reading or writing a DICOM object failed.
class DicomError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// The command line asked for something impossible (exit code 2).
class UsageError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace unionscope
