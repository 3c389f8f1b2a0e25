// JPEG 2000 decoding through OpenJPEG, from memory. DCMTK 3.6.7 ships no
// JPEG 2000 codec, so encapsulated J2K frames are handed to OpenJPEG here.

#include "unionscope/pipeline/dicom/PixelDecoder.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <openjpeg.h>

namespace unionscope::dicom {
namespace {

struct MemoryStream {
  const std::uint8_t* data;
  OPJ_SIZE_T size;
  OPJ_SIZE_T position;
};

OPJ_SIZE_T readStream(void* buffer, OPJ_SIZE_T bytes, void* user) {
  auto* stream = static_cast<MemoryStream*>(user);
  if (stream->position >= stream->size) {
    return static_cast<OPJ_SIZE_T>(-1);
  }
  const OPJ_SIZE_T n = std::min(bytes, stream->size - stream->position);
  std::memcpy(buffer, stream->data + stream->position, n);
  stream->position += n;
  return n;
}

OPJ_OFF_T skipStream(OPJ_OFF_T bytes, void* user) {
  auto* stream = static_cast<MemoryStream*>(user);
  if (bytes < 0) {
    return -1;
  }
  const auto n = std::min(static_cast<OPJ_SIZE_T>(bytes), stream->size - stream->position);
  stream->position += n;
  return static_cast<OPJ_OFF_T>(n);
}

OPJ_BOOL seekStream(OPJ_OFF_T to, void* user) {
  auto* stream = static_cast<MemoryStream*>(user);
  if (to < 0 || static_cast<OPJ_SIZE_T>(to) > stream->size) {
    return OPJ_FALSE;
  }
  stream->position = static_cast<OPJ_SIZE_T>(to);
  return OPJ_TRUE;
}

void collectError(const char* message, void* user) {
  auto* error = static_cast<std::string*>(user);
  if (error->empty()) {
    *error = message;
    while (!error->empty() && (error->back() == '\n' || error->back() == ' ')) {
      error->pop_back();
    }
  }
}

void ignoreMessage(const char* /*message*/, void* /*user*/) {}

} // namespace

std::vector<std::int32_t> decodeJpeg2000(const std::uint8_t* data, std::size_t size,
                                         int expectedColumns, int expectedRows,
                                         std::string& error) {
  error.clear();
  if (size < 12) {
    error = "JPEG 2000 fragment too short";
    return {};
  }
  // A JP2 file starts with its signature box, a raw codestream with SOC+SIZ.
  const bool jp2 = data[4] == 0x6A && data[5] == 0x50 && data[6] == 0x20 && data[7] == 0x20;
  const bool j2k = data[0] == 0xFF && data[1] == 0x4F && data[2] == 0xFF && data[3] == 0x51;
  if (!jp2 && !j2k) {
    error = "not a JPEG 2000 codestream";
    return {};
  }
  MemoryStream memory{data, static_cast<OPJ_SIZE_T>(size), 0};
  std::unique_ptr<opj_stream_t, decltype(&opj_stream_destroy)> stream(
      opj_stream_default_create(OPJ_TRUE), &opj_stream_destroy);
  opj_stream_set_user_data(stream.get(), &memory, nullptr);
  opj_stream_set_user_data_length(stream.get(), size);
  opj_stream_set_read_function(stream.get(), readStream);
  opj_stream_set_skip_function(stream.get(), skipStream);
  opj_stream_set_seek_function(stream.get(), seekStream);

  std::unique_ptr<opj_codec_t, decltype(&opj_destroy_codec)> codec(
      opj_create_decompress(jp2 ? OPJ_CODEC_JP2 : OPJ_CODEC_J2K), &opj_destroy_codec);
  opj_set_error_handler(codec.get(), collectError, &error);
  opj_set_warning_handler(codec.get(), ignoreMessage, nullptr);
  opj_set_info_handler(codec.get(), ignoreMessage, nullptr);
  opj_dparameters_t parameters;
  opj_set_default_decoder_parameters(&parameters);
  if (!opj_setup_decoder(codec.get(), &parameters)) {
    error = "OpenJPEG decoder set-up failed";
    return {};
  }
  opj_image_t* rawImage = nullptr;
  if (!opj_read_header(stream.get(), codec.get(), &rawImage)) {
    if (error.empty()) {
      error = "unreadable JPEG 2000 header";
    }
    return {};
  }
  std::unique_ptr<opj_image_t, decltype(&opj_image_destroy)> image(rawImage, &opj_image_destroy);
  // Check the declared size against the DICOM header before OpenJPEG
  // allocates anything for the decode.
  const auto width = static_cast<int>(image->x1 - image->x0);
  const auto height = static_cast<int>(image->y1 - image->y0);
  if (width != expectedColumns || height != expectedRows || image->numcomps == 0) {
    error = "JPEG 2000 image is " + std::to_string(width) + "x" + std::to_string(height) +
            ", the header says " + std::to_string(expectedColumns) + "x" +
            std::to_string(expectedRows);
    return {};
  }
  if (!opj_decode(codec.get(), stream.get(), image.get()) ||
      !opj_end_decompress(codec.get(), stream.get())) {
    if (error.empty()) {
      error = "JPEG 2000 decode failed";
    }
    return {};
  }
  const std::size_t pixels = static_cast<std::size_t>(width) * height;
  for (OPJ_UINT32 c = 0; c < image->numcomps; ++c) {
    if (image->comps[c].w != image->comps[0].w || image->comps[c].h != image->comps[0].h ||
        image->comps[c].data == nullptr) {
      error = "JPEG 2000 components are subsampled or empty";
      return {};
    }
  }
  if (image->comps[0].w * image->comps[0].h != pixels) {
    error = "JPEG 2000 component size does not match the image";
    return {};
  }
  std::vector<std::int32_t> values(pixels);
  if (image->numcomps >= 3) {
    for (std::size_t i = 0; i < pixels; ++i) {
      values[i] = static_cast<std::int32_t>(0.299 * image->comps[0].data[i] +
                                            0.587 * image->comps[1].data[i] +
                                            0.114 * image->comps[2].data[i] + 0.5);
    }
  } else {
    std::copy(image->comps[0].data, image->comps[0].data + pixels, values.begin());
  }
  return values;
}

} // namespace unionscope::dicom
