// A node checked against its ai.onnx schema at the model's opset: the op exists at that opset,
// the input and output counts are allowed, and attributes the schema declares have its type.
// Kernels trust all three: an op used before it existed, a missing input or a float where ints
// belong would otherwise run with silently different meaning or read past the node.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "ir/node.h"

namespace vitq {

/// Checks \p node (domain ai.onnx only) against its schema at \p opset; opset <= 0 skips the check.
/// Ops unknown to the linked onnx are left to the executor, which names them if it has no kernel.
Status checkAgainstSchema(const Node& node, int64_t opset);

}  // namespace vitq
