#include "passes/ptq/log_quant_export.h"

#include <algorithm>
#include <cmath>

namespace vitq {

Value* insertLogSqrt2FakeQuant(Graph& g, Value* v, float scale, int bits, Node* before) {
  const std::string base = v->name() + "_logq";
  auto constant = [&](const std::string& what, Tensor t) { return g.addInitializer(g.uniqueName(base + "_" + what), std::move(t)); };
  auto scalar = [&](const std::string& what, float x) { return constant(what, Tensor::fromVector<float>({x}, {})); };
  auto byte = [&](const std::string& what, int x) {
    return constant(what, Tensor::fromVector<uint8_t>({static_cast<uint8_t>(x)}, {}));
  };
  auto op = [&](const char* type, std::vector<Value*> inputs, DataType out_type = DataType::kFloat) {
    Node* n = g.addNode(type, inputs, 1, "", before);
    g.renameValue(n->output(0), g.uniqueName(base + "_" + type));
    n->setName(n->output(0)->name());  // value names are unique, so the node's is too
    n->output(0)->type().dtype = out_type;
    return n;
  };
  Node* softmax = v->producer() && v->producer()->is("Softmax") ? v->producer() : nullptr;
  Node* log = softmax ? op("LogSoftmax", {softmax->input(0)}) : op("Log", {v});
  if (softmax && softmax->attrs().has("axis")) {  // same default axis in every opset
    log->attrs().set("axis", Attribute::makeInt(softmax->attrs().intOr("axis", -1)));
  }
  // Index i = clamp(Z - q, 0, 255) on the half-octave grid of log(x / s), Z the last code plus one
  // (255 at 8 bits): i = 0 marks the codes past the last; log(x / s) > 0 (x above s) is code 0.
  const int levels = 1 << bits;
  const int last_index = std::min(levels, 255);
  Value* log_ratio = op("Sub", {log->output(0), scalar("log_scale", std::log(scale))})->output(0);
  if (last_index < 255) log_ratio = op("Min", {log_ratio, scalar("zero", 0.0f)})->output(0);
  Value* step = scalar("half_octave", static_cast<float>(M_LN2 / 2.0));
  Value* top = byte("last_index", last_index);
  Value* index = op("QuantizeLinear", {log_ratio, step, top}, DataType::kUInt8)->output(0);
  Value* power = op("Exp", {op("DequantizeLinear", {index, step, top})->output(0)})->output(0);  // 2^(-q/2)
  Value* nonzero = op("Clip", {index, byte("index_min", 0), byte("index_max", 1)}, DataType::kUInt8)->output(0);
  Value* gain = op("DequantizeLinear", {nonzero, scalar("scale", scale), byte("zero_index", 0)})->output(0);
  Value* out = op("Mul", {power, gain})->output(0);
  out->type() = v->type();
  g.redirectUsesExcept(v, out, log);
  if (softmax && !v->hasUses() && !g.isOutput(v)) g.eraseNode(softmax);
  return out;
}

}  // namespace vitq
