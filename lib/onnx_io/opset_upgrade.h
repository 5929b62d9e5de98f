// Raising a model's ai.onnx opset with onnx's version converter (upgrades only; it knows opsets up
// to 17). Quantization needs opset >= 13 for per-channel DequantizeLinear.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

/// Returns \p model converted to ai.onnx opset \p target (unchanged if already at or above it).
/// Some adapters need input ranks that static inference cannot find (after a Reshape to a
/// computed shape); \p ranks gives them by value name, e.g. observed by running the model once.
StatusOr<Model> upgradeOpset(const Model& model, int64_t target,
                             const std::map<std::string, int64_t>& ranks = {});

}  // namespace vitq
