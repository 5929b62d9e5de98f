#include "exec/kernels/im2col.h"

#include <algorithm>
#include <string>

namespace vitq {

int64_t ConvGeometry::kernelSize() const {
  int64_t p = 1;
  for (int64_t k : kernel) p *= k;
  return p;
}
int64_t ConvGeometry::inSpatialSize() const {
  int64_t p = 1;
  for (int64_t d : in_spatial) p *= d;
  return p;
}
int64_t ConvGeometry::outSpatialSize() const {
  int64_t p = 1;
  for (int64_t d : out_spatial) p *= d;
  return p;
}
bool ConvGeometry::isPointwise() const {
  for (size_t i = 0; i < kernel.size(); ++i) {
    if (kernel[i] != 1 || stride[i] != 1 || pad_begin[i] != 0 || pad_end[i] != 0) return false;
  }
  return true;
}

StatusOr<ConvGeometry> convGeometry(const KernelContext& ctx, const Shape& input, const Shape& weight) {
  if (input.size() < 3 || weight.size() != input.size()) {
    return ctx.error("input " + shapeToString(input) + " and weight " + shapeToString(weight) +
                     " are not N-d convolution shapes");
  }
  const size_t nd = input.size() - 2;
  ConvGeometry g;
  g.batch = input[0];
  g.in_channels = input[1];
  g.out_channels = weight[0];
  g.group = ctx.attrs().intOr("group", 1);
  if (g.group <= 0 || g.in_channels % g.group != 0 || g.out_channels % g.group != 0 ||
      weight[1] * g.group != g.in_channels) {
    return ctx.error("input channels " + std::to_string(g.in_channels) + ", weight " + shapeToString(weight) +
                     " and group " + std::to_string(g.group) + " do not agree");
  }
  g.in_spatial.assign(input.begin() + 2, input.end());
  g.kernel.assign(weight.begin() + 2, weight.end());
  if (auto ks = ctx.attrs().getInts("kernel_shape"); ks && *ks != g.kernel) {
    return ctx.error("kernel_shape does not match the weight shape " + shapeToString(weight));
  }
  g.stride = ctx.attrs().getInts("strides").value_or(std::vector<int64_t>(nd, 1));
  g.dilation = ctx.attrs().getInts("dilations").value_or(std::vector<int64_t>(nd, 1));
  std::vector<int64_t> pads = ctx.attrs().getInts("pads").value_or(std::vector<int64_t>(2 * nd, 0));
  if (g.stride.size() != nd || g.dilation.size() != nd || pads.size() != 2 * nd) {
    return ctx.error("strides, dilations or pads have the wrong length for " + std::to_string(nd) + " spatial dims");
  }
  const std::string auto_pad = ctx.attrs().stringOr("auto_pad", "NOTSET");
  g.pad_begin.resize(nd);
  g.pad_end.resize(nd);
  g.out_spatial.resize(nd);
  for (size_t i = 0; i < nd; ++i) {
    if (g.stride[i] <= 0 || g.dilation[i] <= 0) return ctx.error("strides and dilations must be positive");
    const int64_t extent = g.dilation[i] * (g.kernel[i] - 1) + 1;
    if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      const int64_t out = (g.in_spatial[i] + g.stride[i] - 1) / g.stride[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.stride[i] + extent - g.in_spatial[i]);
      g.pad_begin[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
    } else if (auto_pad == "VALID") {
      g.pad_begin[i] = g.pad_end[i] = 0;
    } else if (auto_pad == "NOTSET") {
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + nd];
    } else {
      return ctx.error("unknown auto_pad '" + auto_pad + "'");
    }
    const int64_t span = g.in_spatial[i] + g.pad_begin[i] + g.pad_end[i] - extent;
    if (span < 0) return ctx.error("kernel is larger than the padded input " + shapeToString(input));
    g.out_spatial[i] = span / g.stride[i] + 1;
  }
  return g;
}

StatusOr<ConvGeometry> convTransposeGeometry(const KernelContext& ctx, const Shape& input, const Shape& weight) {
  if (input.size() < 3 || weight.size() != input.size()) return ctx.error("input and weight ranks do not match");
  const size_t nd = input.size() - 2;
  ConvGeometry g;
  g.batch = input[0];
  g.in_channels = input[1];
  g.group = ctx.attrs().intOr("group", 1);
  if (g.group <= 0 || weight[0] != g.in_channels || g.in_channels % g.group != 0) {
    return ctx.error("weight " + shapeToString(weight) + " does not match input channels " +
                     std::to_string(g.in_channels) + " with group " + std::to_string(g.group));
  }
  g.out_channels = weight[1] * g.group;
  g.in_spatial.assign(input.begin() + 2, input.end());
  g.kernel.assign(weight.begin() + 2, weight.end());
  g.stride = ctx.attrs().getInts("strides").value_or(std::vector<int64_t>(nd, 1));
  g.dilation = ctx.attrs().getInts("dilations").value_or(std::vector<int64_t>(nd, 1));
  auto pads = ctx.attrs().getInts("pads").value_or(std::vector<int64_t>(2 * nd, 0));
  auto out_pad = ctx.attrs().getInts("output_padding").value_or(std::vector<int64_t>(nd, 0));
  const auto out_shape_attr = ctx.attrs().getInts("output_shape");
  const std::string auto_pad = ctx.attrs().stringOr("auto_pad", "NOTSET");
  if (g.stride.size() != nd || g.dilation.size() != nd || pads.size() != 2 * nd || out_pad.size() != nd) {
    return ctx.error("strides, dilations, pads or output_padding have the wrong length");
  }
  g.pad_begin.resize(nd);
  g.pad_end.resize(nd);
  g.out_spatial.resize(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t extent = g.dilation[i] * (g.kernel[i] - 1) + 1;
    const int64_t full = g.stride[i] * (g.in_spatial[i] - 1) + out_pad[i] + extent;
    if (out_shape_attr || auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
      int64_t target = g.in_spatial[i] * g.stride[i];
      if (out_shape_attr) {
        const auto& os = *out_shape_attr;
        target = os.size() == nd ? os[i] : os.size() == nd + 2 ? os[i + 2] : -1;
        if (target < 0) return ctx.error("output_shape has the wrong length");
      }
      const int64_t total = std::max<int64_t>(0, full - target);
      const bool lower = auto_pad == "SAME_LOWER";
      g.pad_begin[i] = lower ? total - total / 2 : total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out_spatial[i] = target;
    } else {
      g.pad_begin[i] = auto_pad == "VALID" ? 0 : pads[i];
      g.pad_end[i] = auto_pad == "VALID" ? 0 : pads[i + nd];
      g.out_spatial[i] = full - g.pad_begin[i] - g.pad_end[i];
    }
    if (g.out_spatial[i] <= 0) return ctx.error("output size would be empty");
  }
  return g;
}

template <typename T>
void im2colRows(const ConvGeometry& g, const T* image, int64_t channels, T pad_value, int64_t row_begin,
                int64_t row_end, T* columns) {
  const int64_t ih = g.in_spatial[0], iw = g.in_spatial[1], ow = g.out_spatial[1];
  const int64_t kh = g.kernel[0], kw = g.kernel[1], sx = g.stride[1];
  const int64_t tile = (row_end - row_begin) * ow;
  const int64_t is = ih * iw;
#pragma omp parallel for schedule(static)
  for (int64_t c = 0; c < channels; ++c) {
    const T* src = image + c * is;
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        T* dst = columns + ((c * kh + ky) * kw + kx) * tile;
        // Output columns [x0, x1) read inside the row: ix = x * sx + shift.
        const int64_t shift = kx * g.dilation[1] - g.pad_begin[1];
        const int64_t x0 = std::min(ow, shift >= 0 ? 0 : (-shift + sx - 1) / sx);
        const int64_t x1 = std::max(x0, std::min(ow, iw - 1 - shift < 0 ? 0 : (iw - 1 - shift) / sx + 1));
        for (int64_t y = row_begin; y < row_end; ++y, dst += ow) {
          const int64_t iy = y * g.stride[0] - g.pad_begin[0] + ky * g.dilation[0];
          if (iy < 0 || iy >= ih) {
            std::fill(dst, dst + ow, pad_value);
            continue;
          }
          const int64_t base = iy * iw + shift;  // base + x * sx >= iy * iw for x >= x0
          std::fill(dst, dst + x0, pad_value);
          if (sx == 1) {
            std::copy(src + base + x0, src + base + x1, dst + x0);
          } else {
            for (int64_t x = x0; x < x1; ++x) dst[x] = src[base + x * sx];
          }
          std::fill(dst + x1, dst + ow, pad_value);
        }
      }
    }
  }
}

template <typename T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, T pad_value, T* columns) {
  if (g.in_spatial.size() == 2) {
    im2colRows(g, image, channels, pad_value, 0, g.out_spatial[0], columns);
    return;
  }
  // General N-d: the shared index map, output positions over the input image.
  const int64_t ks = g.kernelSize();
  const int64_t os = g.outSpatialSize();
  const int64_t is = g.inSpatialSize();
  for (int64_t c = 0; c < channels; ++c) {
    const T* src = image + c * is;
    T* dst = columns + c * ks * os;
    forEachTap(g, g.out_spatial, g.in_spatial,
               [&](int64_t k, int64_t o, int64_t off) { dst[k * os + o] = off < 0 ? pad_value : src[off]; });
  }
}

template void im2col<float>(const ConvGeometry&, const float*, int64_t, float, float*);
template void im2col<int8_t>(const ConvGeometry&, const int8_t*, int64_t, int8_t, int8_t*);
template void im2col<uint8_t>(const ConvGeometry&, const uint8_t*, int64_t, uint8_t, uint8_t*);
template void im2colRows<float>(const ConvGeometry&, const float*, int64_t, float, int64_t, int64_t, float*);

}  // namespace vitq
