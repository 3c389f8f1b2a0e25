#include "unionscope/pipeline/dicom/DicomLibrary.h"

#include <dcmtk/dcmsr/cmr/init.h>
#include <dcmtk/oflog/oflog.h>

#include <mutex>

namespace unionscope::dicom {

void configureDicomLogging(bool verbose) {
  OFLog::configure(verbose ? OFLogger::WARN_LOG_LEVEL : OFLogger::FATAL_LOG_LEVEL);
}

void prepareDicomToolkitForConcurrentUse() {
  static std::once_flag prepared;
  std::call_once(prepared, [] { CMR_ContentMappingResource::initializeAllContextGroups(); });
}

} // namespace unionscope::dicom
