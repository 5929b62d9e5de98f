// An independent copy of a model, for work on a copy (the budget search, sensitivity, the
// configuration evaluator) while the original stays as it is.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

/// Initializers of at least this many bytes are shared by a model and its copies, not copied.
constexpr size_t kSharedInitializerBytes = 64 * 1024;

/// A copy of \p model through its ONNX form (constants not lifted again, no shape inference), with
/// the types vitq inferred on the original copied onto the values the ONNX form does not declare.
/// The graph is the copy's own; large initializers share the original's buffers (no code writes
/// into an initializer's buffer: rewrites set new tensors).
StatusOr<Model> cloneModel(const Model& model);

}  // namespace vitq
