#include "unionscope/pipeline/dicom/DicomLibrary.h"

#include <dcmtk/oflog/oflog.h>

namespace unionscope::dicom {

void configureDicomLogging(bool verbose) {
  OFLog::configure(verbose ? OFLogger::WARN_LOG_LEVEL : OFLogger::FATAL_LOG_LEVEL);
}

} // namespace unionscope::dicom
