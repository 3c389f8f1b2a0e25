// Fuzz entry for the DICOM header and pixel paths: whatever the bytes, the
// ingest must answer with a header or a reason, never crash, hang or allocate
// without bound. Built as a libFuzzer target by scripts/fuzz.sh (clang) and
// replayed with deterministic mutations by the regular test suite.

#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/dicom/DicomLibrary.h"
#include "unionscope/pipeline/dicom/DicomScan.h"
#include "unionscope/pipeline/dicom/PixelDecoder.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace {

std::filesystem::path scratchFile() {
  const std::filesystem::path base =
      std::filesystem::exists("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  return base / ("unionscope_fuzz_" + std::to_string(::getpid()) + ".dcm");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file = [] {
    unionscope::dicom::configureDicomLogging(false);
    return scratchFile();
  }();
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  const unionscope::dicom::HeaderReadResult header = unionscope::dicom::readDicomHeader(file);
  if (header.header) {
    try {
      unionscope::dicom::PixelDecodeLimits limits;
      limits.maxValues = std::uint64_t{16} << 20U;
      const auto pixels = unionscope::dicom::decodePixels(file, limits);
      (void)pixels;
    } catch (const unionscope::DicomError&) {
      // A reason is the expected answer to most fuzzed inputs.
    }
  }
  return 0;
}
