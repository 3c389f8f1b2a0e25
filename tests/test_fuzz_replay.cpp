// Replays the fuzz entry over real and generated DICOM files and thousands of
// deterministic mutations of them (truncations, flipped bytes, huge lengths),
// so that every test run re-checks what the fuzzer checks.

#include "TestSupport.h"
#include "unionscope/sample_data/Phantom.h"

#include <cstdint>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;
using namespace unionscope;

namespace {

std::vector<fs::path> seedFiles(const fs::path& generated) {
  std::vector<fs::path> seeds;
  phantom::PatientSpec spec =
      phantom::makePatientSpec(2, phantom::Scenario::NormalHealing, phantom::Implant::Plate,
                               phantom::SizePreset::Small, {6});
  phantom::writePatient(spec, generated);
  seeds.push_back(generated / "dicom/W06/DX_AP.dcm");
  seeds.push_back(generated / "dicom/W06/CT/CT0010.dcm");
  const fs::path realdata = fs::path(UNIONSCOPE_SHARED_DIR) / "realdata";
  for (const char* file : {"dicom_wg04/J2KR", "dicom_wg04/JLSL", "dicom_wg04/RLE",
                           "dicom_wg04/JPLL", "dicom_misc/encodings", "dicom_misc/malformed"}) {
    if (!fs::exists(realdata / file)) {
      continue;
    }
    for (const auto& entry : fs::directory_iterator(realdata / file)) {
      if (entry.is_regular_file() && entry.file_size() < (std::uintmax_t{1} << 20U)) {
        seeds.push_back(entry.path());
      }
    }
  }
  return seeds;
}

} // namespace

TEST(FuzzReplay, MutatedFilesNeverCrashTheIngest) {
  test::TempDir dir;
  std::uint64_t state = 0x5EED;
  const auto next = [&state]() {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return state >> 17U;
  };
  std::size_t runs = 0;
  for (const fs::path& seed : seedFiles(dir.path())) {
    const std::string original = test::readBytes(seed);
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(original.data()), original.size());
    for (int m = 0; m < 60; ++m) {
      std::string bytes = original;
      switch (m % 4) {
      case 0: // truncated anywhere
        bytes.resize(next() % (bytes.size() + 1));
        break;
      case 1: // a few random bytes
        for (int k = 0; k < 8 && !bytes.empty(); ++k) {
          bytes[next() % bytes.size()] = static_cast<char>(next());
        }
        break;
      case 2: // a length field set huge, past the header
        if (bytes.size() > 200) {
          const std::size_t at = 132 + next() % (bytes.size() - 136);
          bytes.replace(at, 4, "\xFF\xFF\xFF\x7F", 4);
        }
        break;
      default: // a chunk repeated, as a nesting or duplication attack
        if (bytes.size() > 300) {
          const std::size_t at = 132 + next() % (bytes.size() - 300);
          bytes.insert(at, bytes.substr(at, 64 + next() % 128));
        }
        break;
      }
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
      ++runs;
    }
  }
  EXPECT_GE(runs, 100U);
}
