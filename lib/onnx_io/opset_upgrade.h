// Raising a model's ai.onnx opset with onnx's version converter (upgrades only; it knows opsets up
// to 17). Quantization needs opset >= 13 for per-channel DequantizeLinear.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

/// Returns \p model converted to ai.onnx opset \p target (unchanged if already at or above it).
StatusOr<Model> upgradeOpset(const Model& model, int64_t target);

}  // namespace vitq
