#include "passes/canonicalize/widen_float16.h"

#include <string>
#include <unordered_map>
#include <unordered_set>

#include "ir/half.h"

namespace vitq {
namespace {

constexpr auto kFloatCode = static_cast<int64_t>(DataType::kFloat);

bool is16BitFloatCode(int64_t code) {
  return code == static_cast<int64_t>(DataType::kFloat16) || code == static_cast<int64_t>(DataType::kBFloat16);
}

// The main graph's interface: values that keep their 16-bit type and the Casts that produce them.
struct Interface {
  std::unordered_set<const Value*> values;
  std::unordered_set<const Node*> nodes;
};

void widenNode(Node& node, WidenReport& report) {
  if (node.is("CastLike") && node.input(1) && is16BitFloat(node.input(1)->type().dtype)) ++report.casts;
  for (auto& [name, attr] : node.attrs()) {
    if (attr.kind == AttributeKind::kTensor && is16BitFloat(attr.t.dtype())) {
      attr.t = widenToFloat(attr.t);
      ++report.attributes;
    } else if (attr.kind == AttributeKind::kTensors) {
      for (Tensor& t : attr.tensors) {
        if (!is16BitFloat(t.dtype())) continue;
        t = widenToFloat(t);
        ++report.attributes;
      }
    } else if (attr.kind == AttributeKind::kInt && node.domain().empty() && is16BitFloatCode(attr.i) &&
               ((node.is("Cast") && name == "to") || name == "dtype")) {
      attr.i = kFloatCode;
      ++report.casts;
    }
  }
}

void widenGraph(Graph& graph, const Interface& keep, WidenReport& report) {
  for (Node* node : graph.nodeList()) {
    if (keep.nodes.count(node)) continue;
    widenNode(*node, report);
    for (Graph* sub : node->subgraphs()) widenGraph(*sub, {}, report);
  }
  for (Value* v : graph.values()) {
    if (keep.values.count(v)) continue;
    if (v->isInitializer() && is16BitFloat(v->initializer().dtype())) {
      graph.setInitializer(v, widenToFloat(v->initializer()));
      ++report.initializers;
    } else if (is16BitFloat(v->type().dtype)) {
      v->type().dtype = DataType::kFloat;
      ++report.values;
    }
  }
}

class NodeNames {
 public:
  explicit NodeNames(const Graph& graph) {
    for (const auto& n : graph.nodes()) taken_.insert(n->name());
  }
  std::string fresh(const std::string& hint) {
    std::string name = hint;
    for (size_t i = 1; taken_.count(name); ++i) name = hint + "_" + std::to_string(i);
    taken_.insert(name);
    return name;
  }

 private:
  std::unordered_set<std::string> taken_;
};

Node* addCast(Graph& graph, NodeNames& names, const std::string& hint, Value* input, DataType to, Node* before) {
  Node* cast = graph.createNode("Cast", "", names.fresh(hint), before);
  cast->attrs().set("to", Attribute::makeInt(static_cast<int64_t>(to)));
  graph.appendInput(cast, input);
  return cast;
}

// A 16-bit float input read by nodes: they read one Cast(to=FLOAT) of it instead.
void castInput(Graph& graph, NodeNames& names, Value* x, Node* first) {
  Node* cast = addCast(graph, names, x->name() + "_to_float32", x, DataType::kFloat, first);
  Value* wide = graph.createValue(graph.uniqueName(x->name() + "_float32"));
  wide->type() = TensorType{DataType::kFloat, x->type().dims};
  graph.appendOutput(cast, wide);
  graph.redirectUsesExcept(x, wide, cast);
}

// A 16-bit float output: its producer now writes <name>_float32, a final Cast writes the name.
Value* castOutput(Graph& graph, NodeNames& names, Value* y, Interface& keep) {
  const std::string name = y->name();
  const TensorType type = y->type();
  graph.renameValue(y, graph.uniqueName(name + "_float32"));
  Node* cast = addCast(graph, names, name + "_to_" + dataTypeName(type.dtype), y, type.dtype, nullptr);
  Value* narrow = graph.createValue(name);
  narrow->type() = type;
  narrow->setTypeDeclared(y->typeDeclared());
  narrow->doc_string = std::move(y->doc_string);
  y->doc_string.clear();
  graph.appendOutput(cast, narrow);
  keep.values.insert(narrow);
  keep.nodes.insert(cast);
  return narrow;
}

}  // namespace

WidenReport widenFloat16(Graph& graph) {
  WidenReport report;
  Interface keep;
  NodeNames names(graph);
  Node* first = graph.nodes().empty() ? nullptr : graph.nodes().front().get();
  const std::vector<Value*> inputs = graph.inputs();
  for (Value* x : inputs) {
    if (x->isInitializer() || !is16BitFloat(x->type().dtype)) continue;  // initializers are weights: widened
    keep.values.insert(x);
    if (!x->hasUses()) continue;
    castInput(graph, names, x, first);
    ++report.input_casts;
  }
  std::unordered_map<const Value*, Value*> narrowed;
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    Value* y = graph.outputs()[i];
    if (auto it = narrowed.find(y); it != narrowed.end()) {
      graph.setOutput(i, it->second);
      continue;
    }
    const DataType type = y->type().dtype;
    if (!is16BitFloat(type) || keep.values.count(y)) continue;
    Node* producer = y->producer();
    if (producer && producer->is("Cast") && !y->hasUses() &&
        producer->attrs().intOr("to", 0) == static_cast<int64_t>(type)) {
      keep.values.insert(y);
      keep.nodes.insert(producer);
      continue;
    }
    Value* narrow = castOutput(graph, names, y, keep);
    narrowed[y] = narrow;
    graph.setOutput(i, narrow);
    ++report.output_casts;
  }
  widenGraph(graph, keep, report);
  return report;
}

}  // namespace vitq
