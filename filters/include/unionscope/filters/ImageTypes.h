#pragma once
// The image types that flow between pipeline/ and filters/. Images carry their
// physical geometry (origin, spacing, direction in LPS patient coordinates).

#include <itkImage.h>

#include <cstdint>

namespace unionscope {

/// CT volume in Hounsfield units, rescale already applied. int16 keeps a
/// 512x512x600 volume at 300 MB; HU of interest fit in [-1024, 3071] and metal
/// saturates at the top of the range.
using CtImage = itk::Image<std::int16_t, 3>;
/// Binary or label masks over a CT volume.
using MaskImage = itk::Image<std::uint8_t, 3>;
/// Radiograph in display-independent intensity: higher means more attenuation
/// (bone bright), whatever the photometric interpretation on disk.
using RadiographImage = itk::Image<float, 2>;

} // namespace unionscope
