#include "calib/image_resize.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace vitq {
namespace {

// Pillow's fixed point: 32-bit sums, 8 bits of result, 2 bits of headroom.
constexpr int kPrecisionBits = 32 - 8 - 2;

// The taps of one output position along an axis: first input index, and one weight per input.
struct Taps {
  int first = 0;
  std::vector<int32_t> weights;
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the box [0, in_size). The double
// arithmetic is written in the same order as Pillow's so that every weight rounds the same way
// (this file is compiled without FMA contraction, see calib/CMakeLists.txt).
std::vector<Taps> axisTaps(int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  const double inv = 1.0 / filter_scale;
  std::vector<Taps> taps(static_cast<size_t>(out_size));
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = (xx + 0.5) * scale;
    int lo = static_cast<int>(center - support + 0.5);  // truncation toward zero, as Pillow's (int)
    if (lo < 0) lo = 0;
    int hi = static_cast<int>(center + support + 0.5);
    if (hi > in_size) hi = in_size;
    std::vector<double> w(static_cast<size_t>(std::max(hi - lo, 0)));
    double total = 0.0;
    for (size_t x = 0; x < w.size(); ++x) {
      w[x] = triangle((static_cast<int>(x) + lo - center + 0.5) * inv);
      total += w[x];
    }
    Taps& t = taps[static_cast<size_t>(xx)];
    t.first = lo;
    t.weights.resize(w.size());
    for (size_t x = 0; x < w.size(); ++x) {
      const double k = total != 0.0 ? w[x] / total : w[x];
      t.weights[x] = static_cast<int32_t>(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits));
    }
  }
  return taps;
}

uint8_t clip8(int32_t sum) {
  const int32_t v = sum >> kPrecisionBits;  // arithmetic shift: floor, as Pillow's lookup table
  return static_cast<uint8_t>(std::clamp(v, 0, 255));
}

Image resizeHorizontal(const Image& in, int width) {
  const std::vector<Taps> taps = axisTaps(in.width, width);
  Image out{width, in.height, in.channels, std::vector<uint8_t>(static_cast<size_t>(width) * in.height * in.channels)};
  const int c = in.channels;
  for (int y = 0; y < in.height; ++y) {
    const uint8_t* row = in.pixels.data() + static_cast<size_t>(y) * in.width * c;
    uint8_t* dst = out.pixels.data() + static_cast<size_t>(y) * width * c;
    for (int xx = 0; xx < width; ++xx) {
      const Taps& t = taps[static_cast<size_t>(xx)];
      for (int ch = 0; ch < c; ++ch) {
        int32_t sum = 1 << (kPrecisionBits - 1);
        for (size_t x = 0; x < t.weights.size(); ++x) sum += row[(t.first + static_cast<int>(x)) * c + ch] * t.weights[x];
        dst[xx * c + ch] = clip8(sum);
      }
    }
  }
  return out;
}

Image resizeVertical(const Image& in, int height) {
  const std::vector<Taps> taps = axisTaps(in.height, height);
  Image out{in.width, height, in.channels, std::vector<uint8_t>(static_cast<size_t>(in.width) * height * in.channels)};
  const size_t row_len = static_cast<size_t>(in.width) * in.channels;
  for (int yy = 0; yy < height; ++yy) {
    const Taps& t = taps[static_cast<size_t>(yy)];
    uint8_t* dst = out.pixels.data() + yy * row_len;
    for (size_t i = 0; i < row_len; ++i) {
      int32_t sum = 1 << (kPrecisionBits - 1);
      for (size_t y = 0; y < t.weights.size(); ++y) sum += in.pixels[(t.first + y) * row_len + i] * t.weights[y];
      dst[i] = clip8(sum);
    }
  }
  return out;
}

}  // namespace

Image resizeBilinear(const Image& image, int width, int height) {
  // Pillow runs a pass only along an axis whose size changes (an unchanged axis would be the
  // identity anyway), horizontal first.
  if (width == image.width && height == image.height) return image;
  if (width == image.width) return resizeVertical(image, height);
  Image wide = resizeHorizontal(image, width);
  return height == image.height ? wide : resizeVertical(wide, height);
}

}  // namespace vitq
