#include "passes/ptq/log_quant_export.h"

#include <cmath>

namespace vitq {

Value* insertLogSqrt2FakeQuant(Graph& g, Value* v, float scale, int bits, Node* before) {
  const std::string base = v->name() + "_logq";
  auto constant = [&](const std::string& what, float x) {
    return g.addInitializer(g.uniqueName(base + "_" + what), Tensor::fromVector<float>({x}, {}));
  };
  Node* first = nullptr;
  auto op = [&](const char* type, std::vector<Value*> inputs, DataType out_type = DataType::kFloat) {
    Node* n = g.addNode(type, inputs, 1, "", before);
    g.renameValue(n->output(0), g.uniqueName(base + "_" + type));
    n->setName(n->output(0)->name());  // value names are unique, so the node's is too
    n->output(0)->type().dtype = out_type;
    if (!first) first = n;
    return n->output(0);
  };
  const float levels = static_cast<float>(1 << bits);
  Value* ratio = op("Div", {v, constant("scale", scale)});
  Value* code = op("Round", {op("Mul", {op("Log", {ratio}), constant("neg2_over_ln2", static_cast<float>(-2.0 / M_LN2))})});
  Value* kept = op("Less", {code, constant("levels", levels)}, DataType::kBool);
  Value* clamped = op("Clip", {code, constant("code_min", 0.0f), constant("code_max", levels - 1.0f)});
  Value* shift = op("Ceil", {op("Mul", {clamped, constant("half", 0.5f)})});
  // odd = 2 ceil(q/2) - q is 1 for odd codes, 0 for even ones.
  Value* odd = op("Sub", {op("Mul", {shift, constant("two", 2.0f)}), clamped});
  Value* mantissa = op("Add", {op("Mul", {odd, constant("sqrt2_minus_1", static_cast<float>(M_SQRT2 - 1.0))}),
                               constant("one", 1.0f)});
  Value* power = op("Pow", {constant("base", 2.0f), op("Neg", {shift})});
  Value* value = op("Mul", {op("Mul", {power, mantissa}), constant("scale_out", scale)});
  Value* out = op("Where", {kept, value, constant("zero", 0.0f)});
  out->type() = v->type();
  g.redirectUsesExcept(v, out, first);
  return out;
}

}  // namespace vitq
