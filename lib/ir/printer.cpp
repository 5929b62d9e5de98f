#include "ir/printer.h"

#include <sstream>

namespace vitq {
namespace {

std::string valueRef(const Value* v) { return v ? v->name() : std::string(); }

void printAttribute(const std::string& name, const Attribute& a, std::ostream& os, int indent) {
  os << name << " = ";
  switch (a.kind) {
    case AttributeKind::kFloat: os << a.f; break;
    case AttributeKind::kInt: os << a.i; break;
    case AttributeKind::kString: os << '"' << a.s << '"'; break;
    case AttributeKind::kTensor:
      os << dataTypeName(a.t.dtype()) << shapeToString(a.t.shape()) << " tensor";
      break;
    case AttributeKind::kFloats:
    case AttributeKind::kInts:
    case AttributeKind::kStrings: {
      os << "[";
      const size_t n = a.kind == AttributeKind::kFloats ? a.floats.size()
                       : a.kind == AttributeKind::kInts ? a.ints.size()
                                                         : a.strings.size();
      for (size_t i = 0; i < n; ++i) {
        if (i) os << ", ";
        if (a.kind == AttributeKind::kFloats) os << a.floats[i];
        if (a.kind == AttributeKind::kInts) os << a.ints[i];
        if (a.kind == AttributeKind::kStrings) os << '"' << a.strings[i] << '"';
      }
      os << "]";
      break;
    }
    case AttributeKind::kTensors: os << a.tensors.size() << " tensors"; break;
    case AttributeKind::kGraph:
    case AttributeKind::kGraphs:
      os << "\n";
      for (const auto& g : a.graphs) printGraph(*g, os, indent + 4);
      os << std::string(static_cast<size_t>(indent + 2), ' ');
      break;
    case AttributeKind::kOpaque: os << "<opaque>"; break;
  }
}

}  // namespace

void printGraph(const Graph& graph, std::ostream& os, int indent) {
  const std::string pad(static_cast<size_t>(indent), ' ');
  os << pad << "graph " << graph.name() << " (";
  for (size_t i = 0; i < graph.inputs().size(); ++i) {
    const Value* v = graph.inputs()[i];
    os << (i ? ", " : "") << v->type().toString() << " " << v->name();
  }
  os << ") => (";
  for (size_t i = 0; i < graph.outputs().size(); ++i) {
    const Value* v = graph.outputs()[i];
    os << (i ? ", " : "") << v->type().toString() << " " << v->name();
  }
  os << ") {\n";
  for (const Value* init : graph.initializers()) {
    os << pad << "  init " << init->type().toString() << " " << init->name() << "\n";
  }
  for (const auto& node : graph.nodes()) {
    os << pad << "  ";
    for (size_t i = 0; i < node->numOutputs(); ++i) os << (i ? ", " : "") << valueRef(node->output(i));
    os << " = " << (node->domain().empty() ? "" : node->domain() + ".") << node->opType();
    if (node->attrs().size()) {
      os << " <";
      bool first = true;
      for (const auto& [name, attr] : node->attrs()) {
        if (!first) os << ", ";
        first = false;
        printAttribute(name, attr, os, indent);
      }
      os << ">";
    }
    os << " (";
    for (size_t i = 0; i < node->numInputs(); ++i) os << (i ? ", " : "") << valueRef(node->input(i));
    os << ")\n";
  }
  os << pad << "}\n";
}

std::string graphToString(const Graph& graph) {
  std::ostringstream os;
  printGraph(graph, os);
  return os.str();
}

}  // namespace vitq
