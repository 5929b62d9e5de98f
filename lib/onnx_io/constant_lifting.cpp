#include "onnx_io/constant_lifting.h"

#include <optional>

namespace vitq {
namespace {

std::optional<Tensor> constantValue(const Node& node) {
  if (node.attrs().size() != 1) return std::nullopt;
  const auto& [name, a] = *node.attrs().begin();
  if (name == "value" && a.kind == AttributeKind::kTensor) return a.t;
  if (name == "value_float" && a.kind == AttributeKind::kFloat) return Tensor::fromVector<float>({a.f}, {});
  if (name == "value_int" && a.kind == AttributeKind::kInt) return Tensor::fromVector<int64_t>({a.i}, {});
  if (name == "value_floats" && a.kind == AttributeKind::kFloats) {
    return Tensor::fromVector<float>(a.floats, {static_cast<int64_t>(a.floats.size())});
  }
  if (name == "value_ints" && a.kind == AttributeKind::kInts) {
    return Tensor::fromVector<int64_t>(a.ints, {static_cast<int64_t>(a.ints.size())});
  }
  if (name == "value_string" && a.kind == AttributeKind::kString) {
    Tensor t(DataType::kString, {});
    t.strings()[0] = a.s;
    return t;
  }
  if (name == "value_strings" && a.kind == AttributeKind::kStrings) {
    Tensor t(DataType::kString, {static_cast<int64_t>(a.strings.size())});
    t.strings() = a.strings;
    return t;
  }
  return std::nullopt;  // sparse_value or malformed: leave the node alone
}

}  // namespace

size_t liftConstants(Graph& graph) {
  size_t lifted = 0;
  for (Node* node : graph.nodeList()) {
    for (Graph* sub : node->subgraphs()) lifted += liftConstants(*sub);
    if (!node->is("Constant") || node->numOutputs() != 1 || !node->output(0)) continue;
    Value* out = node->output(0);
    if (graph.isOutput(out)) continue;
    std::optional<Tensor> value = constantValue(*node);
    if (!value) continue;
    const std::string name = out->name();
    Value* init = graph.addInitializer(name + "_lifted", std::move(*value));
    graph.replaceAllUsesWith(out, init);
    graph.eraseNode(node);
    graph.renameValue(init, name);
    ++lifted;
  }
  return lifted;
}

}  // namespace vitq
