#include "quant/op_rules.h"

#include <algorithm>
#include <iterator>

namespace vitq {
namespace {

bool oneOf(const Node& node, std::initializer_list<const char*> ops) {
  return std::any_of(ops.begin(), ops.end(), [&node](const char* op) { return node.is(op); });
}

}  // namespace

QuantRole quantRole(const Node& node) {
  if (oneOf(node, {"Conv", "ConvTranspose", "Gemm", "MatMul"})) return QuantRole::kCompute;
  if (oneOf(node, {"Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze", "MaxPool", "Slice",
                   "Gather", "Split", "Identity", "Resize", "Concat", "DepthToSpace", "SpaceToDepth"})) {
    return QuantRole::kPassThrough;
  }
  return QuantRole::kFloat;
}

bool takesBias(const Node& node) { return oneOf(node, {"Conv", "ConvTranspose", "Gemm"}); }

bool movesElementsOnly(const Node& node) {
  return oneOf(node, {"Reshape", "Transpose", "Gather", "Flatten", "Squeeze", "Unsqueeze", "Slice", "Expand",
                      "Identity", "Tile"});
}

const char* quantRoleName(QuantRole role) {
  switch (role) {
    case QuantRole::kCompute: return "compute";
    case QuantRole::kPassThrough: return "pass-through";
    case QuantRole::kFloat: return "float";
  }
  return "unknown";
}

std::string quantRoleReason(const Node& node) {
  switch (quantRole(node)) {
    case QuantRole::kCompute: return node.opType() + " has an integer kernel (QLinear/Integer ops)";
    case QuantRole::kPassThrough: return node.opType() + " only moves values; it keeps its input's scale";
    case QuantRole::kFloat: break;
  }
  return node.opType() + " has no integer kernel in standard ONNX; it stays float unless a method lowers it";
}

}  // namespace vitq
