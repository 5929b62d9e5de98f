// Resize's geometry shared with its gradient (autodiff/vjp_kernel_backward.cpp).
#pragma once

#include "exec/kernel.h"

namespace vitq {

/// dL/dx of Resize or Upsample (float input) from dL/dy: the adjoint of the kernel's own taps
/// (nearest: each output's gradient added to the element it copied; linear and cubic: to its
/// taps with their weights, pass by pass in reverse). Elements that tf_crop_and_resize
/// extrapolates take none. \p forward is the node's forward call (attributes, x, roi, scales, sizes).
StatusOr<Tensor> resizeBackward(const KernelContext& forward, const Tensor& grad_y);

}  // namespace vitq
