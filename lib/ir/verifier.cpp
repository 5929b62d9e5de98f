#include "ir/verifier.h"

#include <onnx/defs/schema.h>

#include <algorithm>
#include <unordered_set>

#include "ir/schema_check.h"

namespace vitq {
namespace {

bool isAncestorOrSelf(const Graph* maybe_ancestor, const Graph* graph) {
  for (const Graph* g = graph; g; g = g->parent()) {
    if (g == maybe_ancestor) return true;
  }
  return false;
}

class GraphVerifier {
 public:
  GraphVerifier(const Graph& graph, const VerifyOptions& options) : graph_(graph), options_(options) {}

  Status run() {
    VITQ_RETURN_IF_ERROR(checkValues());
    for (const auto& node : graph_.nodes()) {
      VITQ_RETURN_IF_ERROR(checkNode(*node));
      for (const Value* out : node->outputs()) {
        if (out) defined_.insert(out);
      }
    }
    for (const Value* out : graph_.outputs()) {
      if (!out) return invalidModel("graph '" + graph_.name() + "' has an empty output");
      if (!out->isDefined() && !isOuterValue(out)) {
        return invalidModel("graph output '" + out->name() + "' is never produced");
      }
    }
    return Status::ok();
  }

 private:
  bool isOuterValue(const Value* v) const {
    return v->owner() != &graph_ && isAncestorOrSelf(v->owner(), graph_.parent());
  }

  Status checkValues() {
    std::unordered_set<std::string> names;
    for (const Value* v : graph_.values()) {
      if (v->owner() != &graph_) return internalError("value '" + v->name() + "' has the wrong owner");
      if (!v->name().empty() && !names.insert(v->name()).second) {
        return invalidModel("value name '" + v->name() + "' is used twice");
      }
      if (v->producer() && (v->isGraphInput() || v->isInitializer())) {
        return invalidModel("value '" + v->name() + "' is both a node output and a graph input or initializer");
      }
      if (v->producer()) {
        const Node* p = v->producer();
        if (p->owner() != &graph_ || p->output(v->producerIndex()) != v) {
          return invalidModel("value '" + v->name() + "' names a producer that does not list it");
        }
      } else if (v->isGraphInput() || v->isInitializer()) {
        defined_.insert(v);
      }
      for (const Use& u : v->uses()) {
        if (!u.user || u.user->input(u.index) != v) {
          return invalidModel("use-list of value '" + v->name() + "' lists a use that does not read it");
        }
      }
    }
    for (const Value* in : graph_.inputs()) {
      if (!in->isGraphInput()) return invalidModel("graph input '" + in->name() + "' is not marked as input");
    }
    return Status::ok();
  }

  Status checkNode(const Node& node) {
    for (size_t i = 0; i < node.numInputs(); ++i) {
      const Value* v = node.input(i);
      if (!v) continue;
      const auto& uses = v->uses();
      if (std::find(uses.begin(), uses.end(), Use{const_cast<Node*>(&node), i}) == uses.end()) {
        return invalidModel("node " + node.describe() + " reads '" + v->name() +
                            "' but is missing from its use-list");
      }
      if (v->owner() == &graph_) {
        if (!v->isDefined()) {
          return invalidModel("node " + node.describe() + " input '" + v->name() +
                              "' is never produced (dangling value)");
        }
        if (!defined_.count(v)) {
          return invalidModel("node " + node.describe() + " reads '" + v->name() +
                              "' before it is produced (cycle or wrong order)");
        }
      } else if (!isOuterValue(v)) {
        return invalidModel("node " + node.describe() + " reads '" + v->name() +
                            "' from a graph that does not enclose it");
      } else if (!v->isDefined()) {
        return invalidModel("node " + node.describe() + " input '" + v->name() + "' is never produced");
      }
    }
    for (size_t i = 0; i < node.numOutputs(); ++i) {
      const Value* out = node.output(i);
      if (out && (out->producer() != &node || out->producerIndex() != i)) {
        return invalidModel("node " + node.describe() + " output '" + out->name() +
                            "' does not name the node as its producer");
      }
    }
    VITQ_RETURN_IF_ERROR(checkAgainstSchema(node, options_.onnx_opset));
    for (const Graph* sub : node.subgraphs()) {
      if (sub->parent() != &graph_) {
        return invalidModel("subgraph of node " + node.describe() + " has the wrong parent");
      }
      VITQ_RETURN_IF_ERROR(GraphVerifier(*sub, options_).run().withContext("in subgraph of node " + node.describe()));
    }
    return Status::ok();
  }

  const Graph& graph_;
  const VerifyOptions& options_;
  std::unordered_set<const Value*> defined_;
};

}  // namespace

Status verifyGraph(const Graph& graph, const VerifyOptions& options) {
  return GraphVerifier(graph, options).run();
}

Status verifyModel(const Model& model) {
  VerifyOptions options;
  const int64_t opset = model.opsetVersion("");
  // Schemas this onnx knows stop at opset 17; newer opsets are not checked against old arities.
  const auto& range = ONNX_NAMESPACE::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  auto it = range.find("");
  if (it != range.end() && opset <= it->second.second) options.onnx_opset = opset;
  return verifyGraph(*model.graph, options);
}

}  // namespace vitq
