#include "pattern/match_utils.h"

#include <algorithm>
#include <cmath>

namespace vitq {

bool isFloatConstant(const Value* v) {
  return v && v->isConstant() && v->initializer().dtype() == DataType::kFloat;
}

std::optional<double> scalarConstant(const Value* v) {
  if (!v || !v->isConstant()) return std::nullopt;
  const Tensor& t = v->initializer();
  if (t.numel() != 1) return std::nullopt;
  if (!isFloatingPoint(t.dtype()) && !isInteger(t.dtype()) && t.dtype() != DataType::kBool) return std::nullopt;
  if (t.dtype() == DataType::kFloat16 || t.dtype() == DataType::kBFloat16 || dataTypeBits(t.dtype()) < 8) {
    return std::nullopt;
  }
  return t.scalarAsDouble(0);
}

bool isConstantNear(const Value* v, double target, double rel_tol) {
  auto c = scalarConstant(v);
  return c && std::fabs(*c - target) <= rel_tol * std::max(1.0, std::fabs(target));
}

Node* producedBy(const Value* v, const char* op_type) {
  if (!v || !v->producer()) return nullptr;
  return v->producer()->is(op_type) ? v->producer() : nullptr;
}

Node* soleUser(const Value* v) {
  if (!v || v->uses().size() != 1 || v->owner()->isOutput(v)) return nullptr;
  return v->uses()[0].user;
}

std::vector<Node*> usersOf(const Value* v) {
  std::vector<Node*> out;
  if (!v) return out;
  for (const Use& u : v->uses()) {
    if (std::find(out.begin(), out.end(), u.user) == out.end()) out.push_back(u.user);
  }
  return out;
}

Value* otherOperand(const Node* node, const Value* v) {
  if (node->numInputs() != 2) return nullptr;
  if (node->input(0) == v) return node->input(1);
  if (node->input(1) == v) return node->input(0);
  return nullptr;
}

}  // namespace vitq
