// Graph edits shared by the passes that fold corrections into linear layers (scale
// reparameterization, noisy bias): editing inputs, inserting an affine node after a value, and
// adding a vector to a MatMul's or Gemm's bias.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace vitq {

void setOrAppendInput(Graph& g, Node* n, size_t index, Value* v);
/// Replaces every input of \p n that is \p old with \p replacement.
void replaceInputConstant(Graph& g, Node* n, const Value* old, Value* replacement);
/// Inserts `op(value, constant)` right after value's producer; value's uses move to it. A graph
/// output moves too and keeps its name.
Value* appendAffine(Graph& g, Value* value, const char* op, Value* constant);
/// Erases an initializer nothing uses any more.
void eraseIfUnused(Graph& g, Value* v);
/// Adds the com.microsoft opset import (ONNX Runtime's contrib ops) unless \p model has it.
void importContribDomain(Model& model);

/// Adds \p add (one value per output column) to the bias of a MatMul (its bias Add's constant) or
/// Gemm (C, divided by beta), creating a bias where there is none. A bias constant used only here
/// is updated in place (its Value, and any quantization decision keyed by it, stays).
void addToLinearBias(Graph& g, Node* linear, const std::vector<float>& add);

/// Input channels of a MatMul (input 0) or Gemm (A, transA = 0) reading \p x with a constant 2-D
/// weight, or -1 when \p n is no such layer.
int64_t linearInputChannels(const Node& n, const Value* x);
/// \p w (the weight of \p n) with input channel c multiplied by sigma[c].
Tensor scaleLinearInputRows(const Node& n, const Tensor& w, const std::vector<float>& sigma);

}  // namespace vitq
