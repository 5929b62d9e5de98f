// Bilinear resizing of 8-bit images exactly as Pillow's Image.resize(size, Image.BILINEAR) does it
// (the project's data scripts and torchvision's PIL path both use it), so that an image file gives
// the same pixels here as in the script that wrote the reference .npy.
#pragma once

#include "calib/image_decode.h"

namespace vitq {

/// \p image resized to \p width x \p height (both >= 1). Pillow's algorithm: a triangle filter
/// widened by the scale factor when shrinking (antialiasing), separable, horizontal pass first,
/// fixed-point weights (22 fractional bits) and rounding to 8 bits after each pass.
Image resizeBilinear(const Image& image, int width, int height);

}  // namespace vitq
