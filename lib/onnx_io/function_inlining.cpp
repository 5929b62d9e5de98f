#include "onnx_io/function_inlining.h"

#include <map>
#include <unordered_map>
#include <unordered_set>

namespace vitq {
namespace {

using FunctionKey = std::pair<std::string, std::string>;  // (domain, name)

// Appends the body of \p f for the call \p call to \p out, renaming the body's values.
Status expandCall(const onnx::NodeProto& call, const onnx::FunctionProto& f, const std::string& prefix,
                  google::protobuf::RepeatedPtrField<onnx::NodeProto>* out) {
  std::unordered_map<std::string, std::string> rename;
  for (int i = 0; i < f.input_size(); ++i) rename[f.input(i)] = i < call.input_size() ? call.input(i) : "";
  for (int i = 0; i < f.output_size(); ++i) rename[f.output(i)] = i < call.output_size() ? call.output(i) : "";
  auto mapped = [&](const std::string& name) -> std::string {
    if (name.empty()) return name;
    auto it = rename.find(name);
    return it != rename.end() ? it->second : prefix + name;
  };
  for (const auto& node : f.node()) {
    onnx::NodeProto* n = out->Add();
    n->CopyFrom(node);
    for (auto& a : *n->mutable_attribute()) {
      if (!a.ref_attr_name().empty()) {
        return unsupported("function " + f.domain() + "." + f.name() + ": attribute references (" + a.name() +
                           ") are not supported by vitq's inliner");
      }
      if (a.has_g() || a.graphs_size() > 0) {
        return unsupported("function " + f.domain() + "." + f.name() + ": bodies with subgraphs are not inlined");
      }
    }
    for (auto& in : *n->mutable_input()) in = mapped(in);
    for (auto& o : *n->mutable_output()) o = mapped(o);
    n->set_name(prefix + (node.name().empty() ? node.op_type() : node.name()));
  }
  return Status::ok();
}

}  // namespace

StatusOr<int> inlineLocalFunctions(onnx::ModelProto& proto) {
  if (proto.functions_size() == 0) return 0;
  std::map<FunctionKey, const onnx::FunctionProto*> functions;
  for (const auto& f : proto.functions()) functions[{f.domain(), f.name()}] = &f;
  int inlined = 0;
  for (int depth = 0;; ++depth) {
    bool changed = false;
    google::protobuf::RepeatedPtrField<onnx::NodeProto> nodes;
    for (const auto& node : proto.graph().node()) {
      auto it = functions.find({node.domain(), node.op_type()});
      if (it == functions.end()) {
        nodes.Add()->CopyFrom(node);
        continue;
      }
      if (depth >= 16) return unsupported("local function calls nest deeper than 16 levels (recursion?)");
      const std::string prefix = (node.name().empty() ? node.op_type() : node.name()) + "/" +
                                 std::to_string(inlined) + "/";
      VITQ_RETURN_IF_ERROR(expandCall(node, *it->second, prefix, &nodes));
      ++inlined;
      changed = true;
    }
    proto.mutable_graph()->mutable_node()->Swap(&nodes);
    if (!changed) break;
  }
  proto.clear_functions();
  return inlined;
}

}  // namespace vitq
