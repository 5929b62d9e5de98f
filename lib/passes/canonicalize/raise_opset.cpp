#include "passes/canonicalize/raise_opset.h"

#include <algorithm>
#include <set>
#include <string>

namespace vitq {
namespace {

// The first IR version that may import each opset (onnx/helper.py's table).
int64_t irVersionFor(int64_t opset) {
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  return 8;
}

bool crosses(int64_t from, int64_t to, int64_t version) { return from < version && version <= to; }

// Reductions whose axes moved from an attribute to an input in opset 18 (ReduceSum did in 13).
const std::set<std::string>& reductionsWithAxesInput18() {
  static const std::set<std::string> ops{"ReduceL1",  "ReduceL2",  "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
                                         "ReduceMean", "ReduceMin", "ReduceProd",   "ReduceSumSquare"};
  return ops;
}

// What vitq cannot carry over: checked for every node before any is rewritten.
Status checkRaisable(const Node& node, int64_t from, int64_t to) {
  if (!node.subgraphs().empty()) {
    return unsupported("node " + node.describe() + ": ops with subgraphs cannot be raised from opset " +
                       std::to_string(from) + " to " + std::to_string(to));
  }
  if (crosses(from, to, 20) && node.is("DFT")) {
    return unsupported("node " + node.describe() + ": DFT changed its inputs in opset 20; vitq cannot raise it from " +
                       std::to_string(from));
  }
  return Status::ok();
}

void rewriteNode(Graph& graph, Node* node, int64_t from, int64_t to) {
  const std::string& op = node->opType();
  if (crosses(from, to, 16) && op == "RoiAlign" && !node->attrs().has("coordinate_transformation_mode")) {
    node->attrs().set("coordinate_transformation_mode", Attribute::makeString("output_half_pixel"));
  }
  if (crosses(from, to, 18) && reductionsWithAxesInput18().count(op)) {
    if (auto axes = node->attrs().getInts("axes")) {
      const auto n = static_cast<int64_t>(axes->size());
      Value* input = graph.addInitializer(graph.uniqueName(node->name() + "_axes"),
                                          Tensor::fromVector<int64_t>(*axes, {n}));
      graph.appendInput(node, input);
      node->attrs().erase("axes");
    }
  }
  if (crosses(from, to, 18) && op == "Split" && (node->numInputs() < 2 || !node->input(1))) {
    node->attrs().set("num_outputs", Attribute::makeInt(static_cast<int64_t>(node->outputs().size())));
  }
  if (crosses(from, to, 20) && op == "GridSample") {
    const std::string mode = node->attrs().stringOr("mode", "bilinear");
    node->attrs().set("mode", Attribute::makeString(mode == "bilinear" ? "linear" : mode == "bicubic" ? "cubic" : mode));
  }
}

bool isStandard(const Node& n) { return n.domain().empty() || n.domain() == "ai.onnx"; }

}  // namespace

Status checkRaiseOpset(const Model& model, int64_t target) {
  const int64_t from = model.opsetVersion("");
  if (from >= target) return Status::ok();
  if (target > kNewestRaisableOpset) {
    return invalidArgument("opset " + std::to_string(target) + " is newer than vitq can raise a model to (" +
                           std::to_string(kNewestRaisableOpset) + ")");
  }
  if (from < 13) {
    return invalidArgument("raising ai.onnx opset " + std::to_string(from) + ": only models at 13 or newer are raised "
                           "in vitq's IR (older ones go through onnx's converter first)");
  }
  for (const auto& node : model.graph->nodes()) {
    if (isStandard(*node)) VITQ_RETURN_IF_ERROR(checkRaisable(*node, from, target));
  }
  return Status::ok();
}

Status raiseOpset(Model& model, int64_t target) {
  VITQ_RETURN_IF_ERROR(checkRaiseOpset(model, target));
  const int64_t from = model.opsetVersion("");
  if (from >= target) return Status::ok();
  for (Node* node : model.graph->nodeList()) {
    if (isStandard(*node)) rewriteNode(*model.graph, node, from, target);
  }
  for (auto& op : model.opset_imports) {
    if (op.domain.empty() || op.domain == "ai.onnx") op.version = target;
  }
  model.ir_version = std::max(model.ir_version, irVersionFor(target));
  return Status::ok();
}

}  // namespace vitq
