// Structural checks of a Graph: SSA (one definition per value), use-list symmetry, topological
// order, dangling values, unique names, and op arity against the ONNX schemas that apply.
// Run after import, after every pass in tests, and before export.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

struct VerifyOptions {
  /// Check input/output counts of ai.onnx ops against the schema for this opset (0: skip).
  int64_t onnx_opset = 0;
};

/// Returns the first violation found, naming the node or value.
Status verifyGraph(const Graph& graph, const VerifyOptions& options = {});
Status verifyModel(const Model& model);

}  // namespace vitq
