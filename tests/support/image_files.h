// Writing small PNG and JPEG files with libpng and libjpeg, for tests of the image readers.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace vitq::test {

struct PngSpec {
  int width = 0, height = 0;
  int color_type = 0;  // PNG_COLOR_TYPE_GRAY (0), _RGB (2), _PALETTE (3), _GRAY_ALPHA (4), _RGB_ALPHA (6)
  int bit_depth = 8;
  bool interlaced = false;
  std::vector<uint8_t> palette;  // R, G, B triplets, for PNG_COLOR_TYPE_PALETTE
};

/// Writes \p rows (packed as the PNG stores them: big-endian 16-bit samples, bits of sub-byte
/// depths high first) as a PNG file.
void writePng(const std::filesystem::path& path, const PngSpec& spec, const std::vector<std::vector<uint8_t>>& rows);

/// Writes \p pixels (rows of width * components bytes; 1 = gray, 3 = RGB) as a baseline JPEG.
void writeJpeg(const std::filesystem::path& path, int width, int height, int components,
               const std::vector<uint8_t>& pixels, int quality = 95);

/// A valid progressive color JPEG of \p width x \p height coded in 568 scans (every AC coefficient
/// of every component alone, in three successive-approximation steps): past vitq's scan limit.
void writeManyScanJpeg(const std::filesystem::path& path, int width, int height);

/// A PNG signature, an IHDR claiming \p width x \p height (8-bit RGB, valid CRC) and the start of
/// an IDAT chunk: what a reader sees before it must decide whether to allocate the pixels.
std::string pngHeaderClaiming(uint32_t width, uint32_t height);

std::string readFile(const std::filesystem::path& path);
void writeFile(const std::filesystem::path& path, const std::string& bytes);

}  // namespace vitq::test
