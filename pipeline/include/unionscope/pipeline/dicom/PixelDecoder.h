#pragma once
// Decodes the pixel data of one DICOM file, whatever its transfer syntax:
// native (little/big endian, deflate), RLE, JPEG baseline/extended/lossless
// (DCMTK dcmjpeg), JPEG-LS (dcmjpls) and JPEG 2000 (OpenJPEG; DCMTK has no
// codec for it). Returns stored values, before any rescale or LUT.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace unionscope::dicom {

struct PixelDecodeLimits {
  /// Refuse to decode more values than this from one file (hostile headers
  /// declare 65535x65535 with a few bytes of data).
  std::uint64_t maxValues = std::uint64_t{256} << 20U;
};

struct DecodedPixels {
  int rows = 0;
  int columns = 0;
  int frames = 0;
  std::string transferSyntaxUid;
  /// One grey value per pixel, frame after frame, rows top to bottom. Colour
  /// images are reduced to luminance. Sign-extended per Pixel Representation
  /// and masked to Bits Stored.
  std::vector<std::int32_t> values;
  bool convertedFromColour = false;
  /// Modality rescale of this file (1 and 0 when absent) and its padding value.
  double rescaleSlope = 1.0;
  double rescaleIntercept = 0.0;
  std::optional<std::int32_t> pixelPaddingValue;

  [[nodiscard]] const std::int32_t* frame(int index) const {
    return values.data() + static_cast<std::size_t>(index) * rows * columns;
  }
};

/// Throws DicomError naming the file and the reason when it cannot decode.
DecodedPixels decodePixels(const std::filesystem::path& file, const PixelDecodeLimits& limits = {});

/// Decodes one JPEG 2000 codestream (raw J2K or a JP2 file) into grey values.
/// Exposed for the fuzz target and tests.
std::vector<std::int32_t> decodeJpeg2000(const std::uint8_t* data, std::size_t size,
                                         int expectedColumns, int expectedRows, std::string& error);

} // namespace unionscope::dicom
