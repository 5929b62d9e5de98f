// Small helpers shared by the structural matchers: constant checks, single users, operands.
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.h"

namespace vitq {

/// A float32 initializer that no caller can override.
bool isFloatConstant(const Value* v);
/// The value of a one-element constant initializer (any numeric dtype), else nullopt.
std::optional<double> scalarConstant(const Value* v);
/// True when \p v is a one-element constant within \p rel_tol (relative) of \p target.
bool isConstantNear(const Value* v, double target, double rel_tol = 1e-3);
/// The node producing \p v if it has op type \p op_type (ai.onnx domain), else nullptr.
Node* producedBy(const Value* v, const char* op_type);
/// The only node using \p v, or nullptr when it has zero or several uses or is a graph output.
Node* soleUser(const Value* v);
/// Distinct nodes using \p v.
std::vector<Node*> usersOf(const Value* v);
/// For a two-input node reading \p v, the other input (nullptr if \p v is not an input).
Value* otherOperand(const Node* node, const Value* v);

}  // namespace vitq
