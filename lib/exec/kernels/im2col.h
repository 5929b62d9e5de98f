// Convolution geometry and im2col, shared by Conv, ConvInteger and QLinearConv.
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
};

/// Reads kernel_shape, strides, dilations, pads, auto_pad and group from the node, with the weight
/// shape [M, C/group, k...] and input shape [N, C, d...]; errors name the node.
StatusOr<ConvGeometry> convGeometry(const KernelContext& ctx, const Shape& input, const Shape& weight);

/// Expands one image's channels [c_begin, c_begin + channels) into columns
/// [channels * kernelSize, outSpatialSize], writing \p pad_value outside the input.
template <typename T>
void im2col(const ConvGeometry& g, const T* image, int64_t channels, T pad_value, T* columns);

}  // namespace vitq
