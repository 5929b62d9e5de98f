// Decoding PNG and JPEG files into 8-bit pixels, safely against hostile files: every libpng and
// libjpeg error (and every libjpeg warning: a truncated JPEG only warns) becomes a Status naming
// the file, and sizes are checked before any pixel buffer is allocated.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/status.h"

namespace vitq {

/// An 8-bit image, rows top to bottom, channels interleaved: 1 (gray) or 3 (R, G, B).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<uint8_t> pixels;  // height * width * channels
};

/// Largest width or height decoded, and largest pixel count (8192 x 8192): beyond them an image is
/// refused before its pixels are allocated.
constexpr int kMaxImageSide = 16384;
constexpr int64_t kMaxImagePixels = int64_t{1} << 26;
/// Largest image file read.
constexpr int64_t kMaxImageFileBytes = int64_t{256} << 20;

/// Whether \p path names a file vitq reads as an image (.png, .jpg, .jpeg, any letter case).
bool isImageFile(const std::filesystem::path& path);

/// Decodes a PNG or JPEG (chosen by the file's signature, not its name): 8-bit gray, RGB, RGBA
/// and palette PNGs at any bit depth (16-bit scaled to 8, alpha dropped, palettes expanded),
/// gray and color (YCbCr or RGB) JPEGs. Errors name \p label.
StatusOr<Image> decodeImage(const std::string& bytes, const std::string& label);

/// Reads and decodes the file \p path.
StatusOr<Image> readImage(const std::filesystem::path& path);

}  // namespace vitq
