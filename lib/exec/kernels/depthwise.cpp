#include "exec/kernels/depthwise.h"

#include <algorithm>
#include <cstring>
#include <vector>

namespace vitq {
namespace {

// Each channel is first copied into a zero-padded plane split by column phase (column x goes to
// phase x mod stride at x / stride), so no tap needs a bounds check and every tap reads
// consecutive values whatever the column stride; blocks of kColumns outputs then stay in
// registers across all taps (loaded and stored once instead of once per tap). Every output sums
// bias and taps in the same order (rows, then columns of the kernel) on either path.
constexpr int64_t kColumns = 16;
// Eight floats as one value (GCC/Clang vector extension: one ymm register on x86).
using Float8 = float __attribute__((vector_size(32)));

inline Float8 load8(const float* p) {
  Float8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

// Input planes [stride][rows][width] and where each kernel tap starts in them (tap at row 0).
struct PhasePlanes {
  int64_t width;  // of one phase plane
  const float* data;
  std::vector<int64_t> taps;  // per (ky, kx): offset of the input value under output (0, 0)
};

void depthwiseChannel(const ConvGeometry& g, const PhasePlanes& in, const float* k, float b, float* dst) {
  const int64_t oh = g.out_spatial[0], ow = g.out_spatial[1], kh = g.kernel[0], kw = g.kernel[1];
  const int64_t taps = kh * kw, row_step = g.stride[0] * in.width;
  const int64_t* tap = in.taps.data();
  for (int64_t oy = 0; oy < oh; ++oy) {
    const float* base = in.data + oy * row_step;
    float* out = dst + oy * ow;
    int64_t ox = 0;
    for (; ox + kColumns <= ow; ox += kColumns) {
      Float8 low = Float8{} + b, high = Float8{} + b;
      for (int64_t t = 0; t < taps; ++t) {
        const float* src = base + tap[t] + ox;
        low += k[t] * load8(src);
        high += k[t] * load8(src + 8);
      }
      std::memcpy(out + ox, &low, sizeof(low));
      std::memcpy(out + ox + 8, &high, sizeof(high));
    }
    for (; ox < ow; ++ox) {
      float acc = b;
      for (int64_t t = 0; t < taps; ++t) acc += k[t] * base[tap[t] + ox];
      out[ox] = acc;
    }
  }
}

}  // namespace

bool isDepthwise2d(const ConvGeometry& g) {
  return g.group == g.in_channels && g.group == g.out_channels && g.in_spatial.size() == 2;
}

void depthwise2d(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], oh = g.out_spatial[0], ow = g.out_spatial[1];
  const int64_t py = g.pad_begin[0], px = g.pad_begin[1], sx = g.stride[1];
  // Rows and columns every tap of every output can reach (at least the padded input).
  const int64_t rows = std::max(ih + py + g.pad_end[0], (oh - 1) * g.stride[0] + (g.kernel[0] - 1) * g.dilation[0] + 1);
  const int64_t cols = std::max(iw + px + g.pad_end[1], (ow - 1) * sx + (g.kernel[1] - 1) * g.dilation[1] + 1);
  const int64_t width = (cols + sx - 1) / sx;
  const int64_t channels = g.batch * g.out_channels;
#pragma omp parallel
  {
    std::vector<float> planes(static_cast<size_t>(sx * rows * width), 0.0f);
    PhasePlanes in{width, planes.data(), {}};
    for (int64_t ky = 0; ky < g.kernel[0]; ++ky) {
      for (int64_t kx = 0; kx < g.kernel[1]; ++kx) {
        const int64_t column = kx * g.dilation[1];
        in.taps.push_back(((column % sx) * rows + ky * g.dilation[0]) * width + column / sx);
      }
    }
#pragma omp for schedule(static)
    for (int64_t nc = 0; nc < channels; ++nc) {
      const int64_t c = nc % g.out_channels;
      const float* src = x + nc * ih * iw;
      for (int64_t iy = 0; iy < ih; ++iy) {  // the border stays zero from the allocation
        float* row = planes.data() + (iy + py) * width;
        if (sx == 1) {
          std::copy(src + iy * iw, src + (iy + 1) * iw, row + px);
          continue;
        }
        for (int64_t phase = 0; phase < sx; ++phase) {  // padded column j * sx + phase is input column ix
          float* dst = row + phase * rows * width;
          int64_t j = phase >= px ? 0 : (px - phase + sx - 1) / sx;
          for (int64_t ix = j * sx + phase - px; ix < iw; ix += sx, ++j) dst[j] = src[iy * iw + ix];
        }
      }
      depthwiseChannel(g, in, w + c * g.kernel[0] * g.kernel[1], bias ? bias[c] : 0.0f, y + nc * oh * ow);
    }
  }
}

}  // namespace vitq
