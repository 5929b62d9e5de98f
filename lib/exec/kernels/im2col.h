// Convolution geometry and im2col, shared by Conv, ConvTranspose, ConvInteger and QLinearConv.
#pragma once

#include <cstdint>
#include <vector>

#include "exec/kernel.h"

namespace vitq {

/// Resolved geometry of an N-d convolution (N = 1, 2 or 3 spatial dims).
struct ConvGeometry {
  int64_t batch = 0, in_channels = 0, out_channels = 0, group = 1;
  std::vector<int64_t> in_spatial, kernel, stride, dilation, pad_begin, pad_end, out_spatial;
  int64_t kernelSize() const;     // product of kernel dims
  int64_t inSpatialSize() const;
  int64_t outSpatialSize() const;
  /// 1x1 kernel, stride 1, no padding: an image is its own im2col column matrix.
  bool isPointwise() const;
};

/// Reads kernel_shape, strides, dilations, pads, auto_pad and group from the node, with the weight
/// shape [M, C/group, k...] and input shape [N, C, d...]; errors name the node.
StatusOr<ConvGeometry> convGeometry(const KernelContext& ctx, const Shape& input, const Shape& weight);

/// ConvTranspose's geometry with the weight [C, M/group, k...]: in_spatial is its input's grid,
/// out_spatial its output image (output_padding, output_shape and auto_pad resolved into the pads),
/// so that im2col over the output image with these strides, pads and dilations is the adjoint of
/// its col2im.
StatusOr<ConvGeometry> convTransposeGeometry(const KernelContext& ctx, const Shape& input, const Shape& weight);

/// The N-d convolution index map shared by im2col and its adjoint col2im: for every kernel tap k
/// and every position p of \p grid (strided positions), calls f(k, p, offset) where offset is the
/// flat index into \p image of p * stride - pad_begin + k * dilation, or -1 inside the padding.
template <typename F>
void forEachTap(const ConvGeometry& g, const std::vector<int64_t>& grid, const std::vector<int64_t>& image, F&& f) {
  const size_t nd = g.kernel.size();
  int64_t taps = 1, positions = 1;
  for (size_t d = 0; d < nd; ++d) {
    taps *= g.kernel[d];
    positions *= grid[d];
  }
  std::vector<int64_t> koff(nd), pos(nd);
  for (int64_t k = 0; k < taps; ++k) {
    int64_t rem = k;
    for (size_t d = nd; d-- > 0;) {
      koff[d] = rem % g.kernel[d];
      rem /= g.kernel[d];
    }
    for (int64_t p = 0; p < positions; ++p) {
      int64_t r = p;
      for (size_t d = nd; d-- > 0;) {
        pos[d] = r % grid[d];
        r /= grid[d];
      }
      int64_t offset = 0;
      bool inside = true;
      for (size_t d = 0; d < nd && inside; ++d) {
        const int64_t i = pos[d] * g.stride[d] - g.pad_begin[d] + koff[d] * g.dilation[d];
        inside = i >= 0 && i < image[d];
        offset = offset * image[d] + i;
      }
      f(k, p, inside ? offset : -1);
    }
  }
}

/// Expands one image's channels [c_begin, c_begin + channels) into columns
/// [channels * kernelSize, outSpatialSize], writing \p pad_value outside the input.
template <typename T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, T pad_value, T* columns);

/// 2-D only: the columns of output rows [row_begin, row_end), [channels * kernelSize, rows * width].
template <typename T>
void im2colRows(const ConvGeometry& g, const T* image, int64_t channels, T pad_value, int64_t row_begin,
                int64_t row_end, T* columns);

}  // namespace vitq
