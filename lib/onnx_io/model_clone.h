// An independent copy of a model, for work on a copy (the budget search, sensitivity, the
// configuration evaluator) while the original stays as it is.
#pragma once

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

/// A copy of \p model through its ONNX form (constants not lifted again, no shape inference), with
/// the types vitq inferred on the original copied onto the values the ONNX form does not declare.
StatusOr<Model> cloneModel(const Model& model);

}  // namespace vitq
