#include "ir/schema_check.h"

#include <onnx/defs/schema.h>

#include <string>

namespace vitq {
namespace {

using AttrType = ONNX_NAMESPACE::AttributeProto::AttributeType;

// The proto type vitq's attribute kinds were read from; opaque ones are kept as they came.
bool kindMatches(AttributeKind kind, AttrType type) {
  using AP = ONNX_NAMESPACE::AttributeProto;
  switch (kind) {
    case AttributeKind::kFloat: return type == AP::FLOAT;
    case AttributeKind::kInt: return type == AP::INT;
    case AttributeKind::kString: return type == AP::STRING;
    case AttributeKind::kTensor: return type == AP::TENSOR;
    case AttributeKind::kGraph: return type == AP::GRAPH;
    case AttributeKind::kFloats: return type == AP::FLOATS;
    case AttributeKind::kInts: return type == AP::INTS;
    case AttributeKind::kStrings: return type == AP::STRINGS;
    case AttributeKind::kTensors: return type == AP::TENSORS;
    case AttributeKind::kGraphs: return type == AP::GRAPHS;
    case AttributeKind::kOpaque: return true;
  }
  return true;
}

// Trailing omitted inputs/outputs do not count.
int presentCount(const std::vector<Value*>& values) {
  size_t n = values.size();
  while (n > 0 && values[n - 1] == nullptr) --n;
  return static_cast<int>(n);
}

Status checkCount(const Node& node, int64_t opset, const char* what, int count, int min, int max) {
  if (count >= min && count <= max) return Status::ok();
  return invalidModel("node " + node.describe() + " has " + std::to_string(count) + " " + what + "; opset " +
                      std::to_string(opset) + " allows " + std::to_string(min) + " to " + std::to_string(max));
}

}  // namespace

Status checkAgainstSchema(const Node& node, int64_t opset) {
  if (opset <= 0 || !node.domain().empty()) return Status::ok();
  const auto* schema = ONNX_NAMESPACE::OpSchemaRegistry::Schema(node.opType(), static_cast<int>(opset), "");
  if (!schema) {
    const auto* later = ONNX_NAMESPACE::OpSchemaRegistry::Schema(node.opType(), INT32_MAX, "");
    if (later && later->SinceVersion() > opset) {
      return invalidModel("node " + node.describe() + ": " + node.opType() + " does not exist in ai.onnx opset " +
                          std::to_string(opset) + " (the model's); it was added in opset " +
                          std::to_string(later->SinceVersion()));
    }
    return Status::ok();  // unknown to this onnx: the executor decides later
  }
  VITQ_RETURN_IF_ERROR(checkCount(node, opset, "inputs", presentCount(node.inputs()), schema->min_input(),
                                  schema->max_input()));
  VITQ_RETURN_IF_ERROR(checkCount(node, opset, "outputs", presentCount(node.outputs()), schema->min_output(),
                                  schema->max_output()));
  const auto& declared = schema->attributes();
  for (const auto& [name, attr] : node.attrs()) {
    auto it = declared.find(name);
    if (it == declared.end() || kindMatches(attr.kind, it->second.type)) continue;
    return invalidModel("node " + node.describe() + ": attribute '" + name + "' is " + attributeKindName(attr.kind) +
                        "; " + node.opType() + " takes " +
                        ONNX_NAMESPACE::AttributeProto::AttributeType_Name(it->second.type));
  }
  return Status::ok();
}

}  // namespace vitq
