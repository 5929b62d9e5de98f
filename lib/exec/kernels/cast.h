// Element type conversion as ONNX Cast defines it (cast.cpp), for kernels that convert operands.
#pragma once

#include "exec/kernel.h"

namespace vitq {

/// \p source as \p target: float to integer saturates (NaN gives 0), 16-bit floats round once.
StatusOr<Tensor> castTensor(const KernelContext& ctx, const Tensor& source, DataType target);

}  // namespace vitq
