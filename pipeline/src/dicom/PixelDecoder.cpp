#include "unionscope/pipeline/dicom/PixelDecoder.h"

#include "unionscope/pipeline/Errors.h"
#include "unionscope/pipeline/dicom/StructureCheck.h"

#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcrledrg.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/dcmjpeg/djdecode.h>
#include <dcmtk/dcmjpls/djdecode.h>
#include <fmt/format.h>

#include <cstring>
#include <mutex>

namespace unionscope::dicom {
namespace {

namespace fs = std::filesystem;

void registerCodecsOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
    DcmRLEDecoderRegistration::registerCodecs();
  });
}

int getInt(DcmItem& item, const DcmTagKey& tag, int fallback) {
  Uint16 value = 0;
  if (item.findAndGetUint16(tag, value).good()) {
    return value;
  }
  OFString text;
  if (item.findAndGetOFString(tag, text).good() && !text.empty()) {
    return std::atoi(text.c_str());
  }
  return fallback;
}

bool isJpeg2000(const std::string& uid) {
  return uid == "1.2.840.10008.1.2.4.90" || uid == "1.2.840.10008.1.2.4.91" ||
         uid == "1.2.840.10008.1.2.4.201" || uid == "1.2.840.10008.1.2.4.202" ||
         uid == "1.2.840.10008.1.2.4.203";
}

/// Keeps the Bits Stored low bits and sign-extends them when signed.
struct StoredBits {
  int bits;
  bool isSigned;
  [[nodiscard]] std::int32_t apply(std::uint32_t raw) const {
    const std::uint32_t mask = bits >= 32 ? 0xFFFFFFFFU : ((1U << bits) - 1U);
    std::uint32_t v = raw & mask;
    if (isSigned && bits < 32 && (v & (1U << (bits - 1))) != 0) {
      v |= ~mask;
    }
    return static_cast<std::int32_t>(v);
  }
};

/// The fragments of each frame of an encapsulated Pixel Data element: one
/// fragment per frame, or all fragments for a single frame, or as the Basic
/// Offset Table says.
std::vector<std::vector<std::uint8_t>> frameCodestreams(DcmPixelSequence& sequence, int frames) {
  const unsigned long items = sequence.card();
  if (items < 2) {
    throw DicomError("encapsulated Pixel Data has no fragments");
  }
  std::vector<std::pair<Uint8*, Uint32>> fragments;
  for (unsigned long i = 1; i < items; ++i) {
    DcmPixelItem* item = nullptr;
    Uint8* bytes = nullptr;
    if (sequence.getItem(item, i).bad() || item == nullptr || item->getUint8Array(bytes).bad()) {
      throw DicomError("unreadable Pixel Data fragment");
    }
    fragments.emplace_back(bytes, item->getLength());
  }
  std::vector<std::vector<std::uint8_t>> streams(static_cast<std::size_t>(frames));
  if (frames == 1 || static_cast<int>(fragments.size()) != frames) {
    if (frames != 1) {
      throw DicomError(fmt::format("{} fragments for {} frames and no way to tell them apart",
                                   fragments.size(), frames));
    }
    for (const auto& [bytes, length] : fragments) {
      streams[0].insert(streams[0].end(), bytes, bytes + length);
    }
    return streams;
  }
  for (int f = 0; f < frames; ++f) {
    const auto& [bytes, length] = fragments[static_cast<std::size_t>(f)];
    streams[static_cast<std::size_t>(f)].assign(bytes, bytes + length);
  }
  return streams;
}

} // namespace

DecodedPixels decodePixels(const fs::path& file, const PixelDecodeLimits& limits) {
  registerCodecsOnce();
  if (const StructureCheck structure = checkDicomStructure(file); !structure.ok) {
    throw DicomError(fmt::format("{}: malformed DICOM: {}", file.string(), structure.reason));
  }
  DcmFileFormat dcm;
  if (const OFCondition status = dcm.loadFile(OFFilename(file.c_str())); status.bad()) {
    throw DicomError(fmt::format("{}: unreadable DICOM: {}", file.string(), status.text()));
  }
  DcmDataset& ds = *dcm.getDataset();
  DecodedPixels out;
  out.rows = getInt(ds, DCM_Rows, 0);
  out.columns = getInt(ds, DCM_Columns, 0);
  out.frames = std::max(1, getInt(ds, DCM_NumberOfFrames, 1));
  const int samples = getInt(ds, DCM_SamplesPerPixel, 1);
  const int bitsAllocated = getInt(ds, DCM_BitsAllocated, 0);
  const int bitsStored = getInt(ds, DCM_BitsStored, bitsAllocated);
  const bool isSigned = getInt(ds, DCM_PixelRepresentation, 0) == 1;
  out.transferSyntaxUid = DcmXfer(ds.getOriginalXfer()).getXferID();
  Float64 rescale = 0;
  if (ds.findAndGetFloat64(DCM_RescaleSlope, rescale).good() && rescale != 0.0) {
    out.rescaleSlope = rescale;
  }
  if (ds.findAndGetFloat64(DCM_RescaleIntercept, rescale).good()) {
    out.rescaleIntercept = rescale;
  }
  if (ds.tagExists(DCM_PixelPaddingValue)) {
    // US or SS by Pixel Representation: read as signed when it is.
    Sint16 signedPadding = 0;
    Uint16 unsignedPadding = 0;
    if (isSigned && ds.findAndGetSint16(DCM_PixelPaddingValue, signedPadding).good()) {
      out.pixelPaddingValue = signedPadding;
    } else if (ds.findAndGetUint16(DCM_PixelPaddingValue, unsignedPadding).good()) {
      out.pixelPaddingValue = isSigned ? static_cast<Sint16>(unsignedPadding) : unsignedPadding;
    }
  }
  const auto fail = [&](const std::string& reason) {
    return DicomError(fmt::format("{}: {}", file.string(), reason));
  };
  if (out.rows <= 0 || out.columns <= 0) {
    throw fail("Rows or Columns missing or zero");
  }
  if (bitsAllocated != 8 && bitsAllocated != 16 && bitsAllocated != 32) {
    throw fail(fmt::format("Bits Allocated {} is not supported", bitsAllocated));
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated || (samples != 1 && samples != 3)) {
    throw fail(fmt::format("inconsistent pixel description: Bits Stored {}, Samples per Pixel {}",
                           bitsStored, samples));
  }
  const std::uint64_t pixelsPerFrame = std::uint64_t(out.rows) * std::uint64_t(out.columns);
  const std::uint64_t total = pixelsPerFrame * std::uint64_t(out.frames);
  if (total * std::uint64_t(samples) > limits.maxValues) {
    throw fail(fmt::format("declared image of {}x{}x{} exceeds the {} value limit", out.columns,
                           out.rows, out.frames, limits.maxValues));
  }
  DcmElement* element = nullptr;
  if (ds.findAndGetElement(DCM_PixelData, element).bad() || element == nullptr) {
    throw fail("no Pixel Data");
  }
  // A hostile or broken file can carry (7FE0,0010) with a VR that DCMTK does
  // not read as pixel data.
  auto* pixelData = dynamic_cast<DcmPixelData*>(element);
  if (pixelData == nullptr) {
    throw fail(fmt::format("Pixel Data has VR {}, not OB or OW", DcmVR(element->getVR()).getVRName()));
  }
  out.values.resize(static_cast<std::size_t>(total));
  const StoredBits stored{bitsStored, isSigned};

  if (isJpeg2000(out.transferSyntaxUid)) {
    DcmPixelSequence* sequence = nullptr;
    if (pixelData->getEncapsulatedRepresentation(ds.getOriginalXfer(), nullptr, sequence).bad() ||
        sequence == nullptr) {
      throw fail("JPEG 2000 Pixel Data is not encapsulated");
    }
    const auto streams = frameCodestreams(*sequence, out.frames);
    for (int f = 0; f < out.frames; ++f) {
      std::string error;
      const auto& stream = streams[static_cast<std::size_t>(f)];
      std::vector<std::int32_t> frame =
          decodeJpeg2000(stream.data(), stream.size(), out.columns, out.rows, error);
      if (!error.empty()) {
        throw fail(fmt::format("frame {}: {}", f + 1, error));
      }
      std::int32_t* target = out.values.data() + static_cast<std::size_t>(f) * pixelsPerFrame;
      for (std::size_t i = 0; i < frame.size(); ++i) {
        target[i] = stored.apply(static_cast<std::uint32_t>(frame[i]));
      }
      out.convertedFromColour = out.convertedFromColour || samples == 3;
    }
    return out;
  }

  Uint32 frameBytes = 0;
  if (pixelData->getUncompressedFrameSize(&ds, frameBytes).bad() || frameBytes == 0) {
    throw fail("cannot determine the frame size");
  }
  const std::uint64_t expectedBytes =
      pixelsPerFrame * std::uint64_t(samples) * std::uint64_t(bitsAllocated / 8);
  if (frameBytes < expectedBytes) {
    throw fail("frame size smaller than Rows x Columns declare");
  }
  std::vector<std::uint8_t> buffer(frameBytes + (frameBytes & 1U));
  const bool bigEndian = DcmXfer(ds.getOriginalXfer()).isBigEndian();
  Uint32 startFragment = 0;
  for (int f = 0; f < out.frames; ++f) {
    OFString colourModel;
    const OFCondition status =
        pixelData->getUncompressedFrame(&ds, static_cast<Uint32>(f), startFragment, buffer.data(),
                                        static_cast<Uint32>(buffer.size()), colourModel);
    if (status.bad()) {
      throw fail(fmt::format("frame {} cannot be decoded ({}): {}", f + 1,
                             DcmXfer(ds.getOriginalXfer()).getXferName(), status.text()));
    }
    std::int32_t* target = out.values.data() + static_cast<std::size_t>(f) * pixelsPerFrame;
    // Colour: luminance from RGB, or the Y of YBR as it comes.
    const bool ybr = colourModel.substr(0, 3) == "YBR";
    const int planar = samples == 3 ? getInt(ds, DCM_PlanarConfiguration, 0) : 0;
    for (std::uint64_t i = 0; i < pixelsPerFrame; ++i) {
      const auto sample = [&](int s) -> std::uint32_t {
        const std::uint64_t index = planar == 1 ? s * pixelsPerFrame + i : i * samples + s;
        switch (bitsAllocated) {
        case 8:
          return buffer[index];
        case 16: {
          Uint16 v = 0;
          std::memcpy(&v, buffer.data() + 2 * index, 2);
          return v;
        }
        default: {
          Uint32 v = 0;
          std::memcpy(&v, buffer.data() + 4 * index, 4);
          // DCMTK swaps big endian pixel data as 16-bit words (VR OW); the
          // halves of a 32-bit value are still in big endian order.
          return bigEndian ? (v << 16U) | (v >> 16U) : v;
        }
        }
      };
      if (samples == 1 || ybr) {
        target[i] = stored.apply(sample(0));
      } else {
        target[i] = static_cast<std::int32_t>(0.299 * stored.apply(sample(0)) +
                                              0.587 * stored.apply(sample(1)) +
                                              0.114 * stored.apply(sample(2)) + 0.5);
      }
    }
    out.convertedFromColour = out.convertedFromColour || samples == 3;
  }
  return out;
}

} // namespace unionscope::dicom
