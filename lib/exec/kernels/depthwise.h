// Depthwise 2-D convolution (one output channel per input channel) by direct accumulation, which
// beats im2col + GEMM on these tiny per-channel products. Float Conv uses it; ConvInteger too, on
// integer values small enough that float sums are exact.
#pragma once

#include "exec/kernels/im2col.h"

namespace vitq {

bool isDepthwise2d(const ConvGeometry& g);

/// y[n, c] = bias[c] + sum over taps of w[c] * x[n, c] (zero outside the input); bias may be null.
void depthwise2d(const ConvGeometry& g, const float* x, const float* w, const float* bias, float* y);

}  // namespace vitq
