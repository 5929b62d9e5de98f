// Pooling kernels' geometry shared with their gradients (autodiff/vjp_kernel_backward.cpp).
#pragma once

#include "exec/kernel.h"

namespace vitq {

/// dL/dx of AveragePool (float, 1- to 3-d) from dL/dy: each output's gradient spread evenly over
/// the inputs of its window, divided by the same count as the forward pass (count_include_pad).
/// \p forward is the node's forward call (attributes and input x).
StatusOr<Tensor> averagePoolBackward(const KernelContext& forward, const Tensor& grad_y);

/// dL/dx of MaxPool (float, 1- to 3-d) from dL/dy: each output's gradient goes to the element the
/// forward loop chose as its window's maximum (the first of equal ones).
StatusOr<Tensor> maxPoolBackward(const KernelContext& forward, const Tensor& grad_y);

}  // namespace vitq
