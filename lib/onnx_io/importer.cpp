#include "onnx_io/importer.h"
#include "onnx_io/guarded_schemas.h"

#include "onnx_io/function_inlining.h"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <optional>
#include <unordered_map>

#include "core/logging.h"
#include "ir/verifier.h"
#include "onnx_io/constant_lifting.h"
#include "onnx_io/model_file.h"
#include "onnx_io/tensor_proto.h"
#include "onnx_io/type_proto.h"

namespace vitq {
namespace {

using google::protobuf::Message;

std::string unknownFieldsOf(const Message& msg) {
  std::string out;
  msg.GetReflection()->GetUnknownFields(msg).SerializeToString(&out);
  return out;
}

using InferredTypes = std::unordered_map<std::string, onnx::TypeProto>;

// Swapped out, not cleared: clear() keeps a buffer's capacity, so nothing would be freed.
void freeTensorData(onnx::TensorProto* t) {
  std::string().swap(*t->mutable_raw_data());
  google::protobuf::RepeatedField<float>().Swap(t->mutable_float_data());
}

class GraphImporter {
 public:
  GraphImporter(const TensorSource& source, const InferredTypes& inferred, bool release_payloads)
      : source_(source), inferred_(inferred), release_payloads_(release_payloads) {}

  /// Data-less initializers of \p main take their tensors from \p from (ImportOptions::initializers_from).
  void shareInitializers(const Graph* from, const Graph* main) {
    share_from_ = from;
    main_ = main;
  }

  Status importGraph(const onnx::GraphProto& gp, Graph& graph) {
    graph.setName(gp.name());
    graph.doc_string = gp.doc_string();
    if (gp.sparse_initializer_size() > 0) {
      return unsupported("graph '" + gp.name() + "' has sparse initializers, which vitq does not support");
    }
    onnx::GraphProto kept;  // fields vitq does not model
    kept.mutable_quantization_annotation()->CopyFrom(gp.quantization_annotation());
    kept.GetReflection()->MutableUnknownFields(&kept)->MergeFrom(gp.GetReflection()->GetUnknownFields(gp));
    graph.preserved_fields = kept.SerializeAsString();

    std::unordered_map<std::string, Value*> local;
    for (const auto& vi : gp.input()) {
      if (vi.name().empty()) return invalidModel("graph '" + gp.name() + "' has an input without a name");
      if (local.count(vi.name())) return invalidModel("graph input '" + vi.name() + "' is declared twice");
      Value* v = graph.addInput(vi.name(), {});
      applyTypeProto(vi.type(), v);
      v->doc_string = vi.doc_string();
      local[vi.name()] = v;
    }
    for (const auto& tp : gp.initializer()) {
      if (tp.name().empty()) return invalidModel("graph '" + gp.name() + "' has an initializer without a name");
      VITQ_ASSIGN_OR_RETURN(Tensor tensor, initializerTensor(tp, graph));
      release(tp);
      auto it = local.find(tp.name());
      if (it != local.end()) {
        if (it->second->isInitializer()) return invalidModel("initializer '" + tp.name() + "' is declared twice");
        TensorType declared = it->second->type();
        graph.setInitializer(it->second, std::move(tensor));
        if (declared.dims) it->second->type() = declared;  // keep the declared (possibly symbolic) input type
      } else {
        local[tp.name()] = graph.addInitializer(tp.name(), std::move(tensor));
      }
    }
    // Outputs first, so that nodes listed out of order still resolve their inputs.
    for (const auto& np : gp.node()) {
      for (const auto& name : np.output()) {
        if (name.empty()) continue;
        if (local.count(name)) {
          return invalidModel("value '" + name + "' is produced twice (node '" + np.name() + "' " + np.op_type() + ")");
        }
        local[name] = graph.createValue(name);
        if (local[name]->name() != name) graph.renameValue(local[name], name);
      }
    }
    for (const auto& np : gp.node()) VITQ_RETURN_IF_ERROR(importNode(np, graph, local));
    for (const auto& vi : gp.value_info()) {
      auto it = local.find(vi.name());
      if (it == local.end()) continue;  // describes nothing in this graph: dropped
      applyTypeProto(vi.type(), it->second);
      it->second->setTypeDeclared(true);
      it->second->doc_string = vi.doc_string();
    }
    for (const auto& [name, v] : local) {  // inferred types fill what the file left open
      if (v->typeDeclared() || v->isInitializer()) continue;
      auto inferred = inferred_.find(name);
      if (inferred != inferred_.end()) applyTypeProto(inferred->second, v);
    }
    for (const auto& vi : gp.output()) {
      Value* v = resolve(vi.name(), graph, local);
      if (!v) return invalidModel("graph output '" + vi.name() + "' is never produced");
      if (v->owner() == &graph) {
        if (vi.has_type()) applyTypeProto(vi.type(), v);
        v->setTypeDeclared(true);
        if (!vi.doc_string().empty()) v->doc_string = vi.doc_string();
      }
      graph.addOutput(v);
    }
    return graph.topologicalSort().withContext("graph '" + gp.name() + "'");
  }

 private:
  Value* resolve(const std::string& name, const Graph& graph,
                 const std::unordered_map<std::string, Value*>& local) const {
    auto it = local.find(name);
    if (it != local.end()) return it->second;
    return graph.parent() ? graph.parent()->lookup(name) : nullptr;
  }

  Status importNode(const onnx::NodeProto& np, Graph& graph,
                    const std::unordered_map<std::string, Value*>& local) {
    Node* node = graph.createNode(np.op_type(), np.domain() == "ai.onnx" ? "" : np.domain(), np.name());
    node->doc_string = np.doc_string();
    node->unknown_fields = unknownFieldsOf(np);
    for (const auto& name : np.output()) graph.appendOutput(node, name.empty() ? nullptr : local.at(name));
    for (const auto& name : np.input()) {
      if (name.empty()) {
        graph.appendInput(node, nullptr);
        continue;
      }
      Value* v = resolve(name, graph, local);
      if (!v) {
        return invalidModel("node " + node->describe() + " input '" + name +
                            "' is never produced (not a graph input, initializer or node output)");
      }
      graph.appendInput(node, v);
    }
    for (const auto& ap : np.attribute()) {
      VITQ_ASSIGN_OR_RETURN(Attribute attr, importAttribute(ap, graph, *node));
      node->attrs().set(ap.name(), std::move(attr));
    }
    return Status::ok();
  }

  StatusOr<std::unique_ptr<Graph>> importSubgraph(const onnx::GraphProto& gp, Graph& parent, const Node& node) {
    auto sub = std::make_unique<Graph>(&parent);
    VITQ_RETURN_IF_ERROR(importGraph(gp, *sub).withContext("in subgraph of node " + node.describe()));
    return sub;
  }

  StatusOr<Attribute> importAttribute(const onnx::AttributeProto& ap, Graph& graph, const Node& node) {
    using AP = onnx::AttributeProto;
    Attribute a;
    a.doc_string = ap.doc_string();
    AP::AttributeType type = ap.type();
    if (type == AP::UNDEFINED) {  // very old exporters leave the type out
      if (ap.has_f()) type = AP::FLOAT;
      else if (ap.has_i()) type = AP::INT;
      else if (ap.has_s()) type = AP::STRING;
      else if (ap.has_t()) type = AP::TENSOR;
      else if (ap.has_g()) type = AP::GRAPH;
      else if (ap.floats_size()) type = AP::FLOATS;
      else if (ap.ints_size()) type = AP::INTS;
      else if (ap.strings_size()) type = AP::STRINGS;
    }
    if (!ap.ref_attr_name().empty()) type = AP::UNDEFINED;  // function-body reference: keep opaque
    switch (type) {
      case AP::FLOAT: a.kind = AttributeKind::kFloat; a.f = ap.f(); break;
      case AP::INT: a.kind = AttributeKind::kInt; a.i = ap.i(); break;
      case AP::STRING: a.kind = AttributeKind::kString; a.s = ap.s(); break;
      case AP::FLOATS: a.kind = AttributeKind::kFloats; a.floats.assign(ap.floats().begin(), ap.floats().end()); break;
      case AP::INTS: a.kind = AttributeKind::kInts; a.ints.assign(ap.ints().begin(), ap.ints().end()); break;
      case AP::STRINGS: a.kind = AttributeKind::kStrings; a.strings.assign(ap.strings().begin(), ap.strings().end()); break;
      case AP::TENSOR: {
        a.kind = AttributeKind::kTensor;
        auto tensor = tensorFromProto(ap.t(), source_);
        if (!tensor.isOk()) {
          return tensor.status().withContext("attribute '" + ap.name() + "' of node " + node.describe());
        }
        release(ap.t());
        a.t = std::move(tensor).value();
        break;
      }
      case AP::TENSORS: {
        a.kind = AttributeKind::kTensors;
        for (const auto& tp : ap.tensors()) {
          VITQ_ASSIGN_OR_RETURN(Tensor t, tensorFromProto(tp, source_));
          a.tensors.push_back(std::move(t));
        }
        break;
      }
      case AP::GRAPH: {
        a.kind = AttributeKind::kGraph;
        VITQ_ASSIGN_OR_RETURN(auto sub, importSubgraph(ap.g(), graph, node));
        a.graphs.push_back(std::move(sub));
        break;
      }
      case AP::GRAPHS: {
        a.kind = AttributeKind::kGraphs;
        for (const auto& gp : ap.graphs()) {
          VITQ_ASSIGN_OR_RETURN(auto sub, importSubgraph(gp, graph, node));
          a.graphs.push_back(std::move(sub));
        }
        break;
      }
      default:
        a.kind = AttributeKind::kOpaque;
        a.s = ap.SerializeAsString();
        break;
    }
    return a;
  }

  // When the caller hands over its proto, each tensor's bytes are dropped once copied, so the
  // file's weights and vitq's never sit in memory twice (peak RSS at load).
  void release(const onnx::TensorProto& tp) const {
    if (!release_payloads_) return;
    freeTensorData(&const_cast<onnx::TensorProto&>(tp));  // the proto is ours: see loadModel
  }

  // The tensor of initializer \p tp of \p graph: decoded, or for a data-less one of the main graph
  // the source model's same-named initializer (same type and dims), whose buffer it shares.
  StatusOr<Tensor> initializerTensor(const onnx::TensorProto& tp, const Graph& graph) const {
    if (share_from_ && &graph == main_ && !carriesData(tp)) {
      const Value* same = share_from_->findValue(tp.name());
      if (same && same->isInitializer() && static_cast<int32_t>(same->initializer().dtype()) == tp.data_type() &&
          Shape(tp.dims().begin(), tp.dims().end()) == same->initializer().shape()) {
        return same->initializer();
      }
    }
    return tensorFromProto(tp, source_);
  }

  const TensorSource& source_;
  const InferredTypes& inferred_;
  bool release_payloads_;
  const Graph* share_from_ = nullptr;
  const Graph* main_ = nullptr;
};

// onnx's inference knows opsets up to its own newest; past that its schemas are wrong.
bool shapeInferenceApplies(const onnx::ModelProto& proto) {
  const auto& range = ONNX_NAMESPACE::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& op : proto.opset_import()) {
    const std::string domain = op.domain() == "ai.onnx" ? "" : op.domain();
    auto it = range.find(domain);
    if (it == range.end() || op.version() > it->second.second) return false;
  }
  return proto.ir_version() <= onnx::IR_VERSION;
}

// Large tensor payloads are dropped from the copy that inference sees: it needs their types,
// and data only for small shape-like constants.
constexpr size_t kInferenceDataLimit = 4096;

void stripLargeData(onnx::TensorProto* t) {
  if (t->raw_data().size() > kInferenceDataLimit || t->float_data_size() * sizeof(float) > kInferenceDataLimit) {
    freeTensorData(t);
  }
}

void stripGraph(onnx::GraphProto* g) {
  for (auto& init : *g->mutable_initializer()) stripLargeData(&init);
  for (auto& node : *g->mutable_node()) {
    for (auto& attr : *node.mutable_attribute()) {
      if (attr.has_t()) stripLargeData(attr.mutable_t());
      if (attr.has_g()) stripGraph(attr.mutable_g());
      for (auto& sub : *attr.mutable_graphs()) stripGraph(&sub);
    }
  }
}

void collectValueInfo(const onnx::GraphProto& g, InferredTypes& out) {
  for (const auto& vi : g.value_info()) out[vi.name()] = vi.type();
  for (const auto& node : g.node()) {
    for (const auto& attr : node.attribute()) {
      if (attr.has_g()) collectValueInfo(attr.g(), out);
      for (const auto& sub : attr.graphs()) collectValueInfo(sub, out);
    }
  }
}

// Runs onnx shape inference on a light copy of \p proto; returns the types it found.
std::optional<InferredTypes> inferShapes(const onnx::ModelProto& proto) {
  if (!shapeInferenceApplies(proto)) {
    logger("vitq.import")->debug("shape inference skipped: opset or IR version newer than onnx {}", "1.12");
    return std::nullopt;
  }
  // Copied piece by piece, stripping as we go, so that at most one tensor is ever held twice.
  onnx::ModelProto copy;
  copy.set_ir_version(proto.ir_version());
  *copy.mutable_opset_import() = proto.opset_import();
  *copy.mutable_functions() = proto.functions();
  const onnx::GraphProto& g = proto.graph();
  onnx::GraphProto* cg = copy.mutable_graph();
  cg->set_name(g.name());
  *cg->mutable_input() = g.input();
  *cg->mutable_output() = g.output();
  *cg->mutable_value_info() = g.value_info();
  for (const auto& init : g.initializer()) {
    auto* c = cg->add_initializer();
    c->CopyFrom(init);
    stripLargeData(c);
  }
  for (const auto& node : g.node()) {
    auto* c = cg->add_node();
    c->CopyFrom(node);
    for (auto& attr : *c->mutable_attribute()) {
      if (attr.has_t()) stripLargeData(attr.mutable_t());
      if (attr.has_g()) stripGraph(attr.mutable_g());
      for (auto& sub : *attr.mutable_graphs()) stripGraph(&sub);
    }
  }
  try {
    onnx::ShapeInferenceOptions options{/*check_type=*/false, /*error_mode=*/0, /*enable_data_propagation=*/true};
    onnx::shape_inference::InferShapes(copy, guardedSchemaRegistry(), options);
  } catch (const std::exception& e) {
    logger("vitq.import")->debug("shape inference stopped: {}", e.what());
    return std::nullopt;
  }
  InferredTypes types;
  collectValueInfo(copy.graph(), types);
  return types;
}

}  // namespace

namespace {

StatusOr<Model> importImpl(const onnx::ModelProto& proto, const std::filesystem::path& model_dir,
                           const ImportOptions& options, ImportReport* report, bool release_payloads) {
  ImportReport local_report;
  if (!report) report = &local_report;
  Model model;
  model.ir_version = proto.ir_version();
  if (model.ir_version > onnx::IR_VERSION) {
    logger("vitq.import")->info("IR version {} is newer than onnx {} knows ({}); read with protobuf directly",
                                model.ir_version, "1.12", static_cast<int>(onnx::IR_VERSION));
  }
  for (const auto& op : proto.opset_import()) {
    model.opset_imports.push_back({op.domain(), op.version()});
  }
  if (model.opset_imports.empty() && model.ir_version >= 3) {
    return invalidModel("the model imports no opset");
  }
  const int64_t opset = model.opsetVersion("");
  if (opset > kNewestKnownOpset) {
    logger("vitq.import")->warn("ai.onnx opset {} is newer than {}, the newest vitq knows", opset, kNewestKnownOpset);
  }
  model.producer_name = proto.producer_name();
  model.producer_version = proto.producer_version();
  model.domain = proto.domain();
  model.model_version = proto.model_version();
  model.doc_string = proto.doc_string();
  for (const auto& kv : proto.metadata_props()) model.metadata_props.emplace_back(kv.key(), kv.value());
  for (const auto& f : proto.functions()) model.functions.push_back(f.SerializeAsString());
  for (const auto& t : proto.training_info()) model.training_info.push_back(t.SerializeAsString());
  model.unknown_fields = unknownFieldsOf(proto);

  InferredTypes inferred;
  if (options.infer_shapes) {
    if (auto types = inferShapes(proto)) {
      inferred = std::move(*types);
      report->shapes_inferred = true;
    }
  }
  TensorSource source{model_dir, true};
  GraphImporter importer(source, inferred, release_payloads);
  importer.shareInitializers(options.initializers_from, model.graph.get());
  VITQ_RETURN_IF_ERROR(importer.importGraph(proto.graph(), *model.graph));
  if (options.lift_constants) report->lifted_constants = liftConstants(*model.graph);
  VITQ_RETURN_IF_ERROR(verifyModel(model));
  return model;
}

}  // namespace

StatusOr<Model> importModel(const onnx::ModelProto& proto, const std::filesystem::path& model_dir,
                            const ImportOptions& options, ImportReport* report) {
  if (options.inline_functions && proto.functions_size() > 0) {
    onnx::ModelProto copy = proto;
    VITQ_RETURN_IF_ERROR(inlineLocalFunctions(copy).status());
    return importImpl(copy, model_dir, options, report, false);
  }
  return importImpl(proto, model_dir, options, report, false);
}

StatusOr<Model> loadModel(const std::filesystem::path& path, const ImportOptions& options,
                          ImportReport* report) {
  VITQ_ASSIGN_OR_RETURN(onnx::ModelProto proto, readModelProto(path));
  if (options.inline_functions) {
    auto inlined = inlineLocalFunctions(proto);
    if (!inlined.isOk()) return inlined.status().withContext(path.string());
  }
  auto model = importImpl(proto, path.parent_path(), options, report, true);
  if (!model.isOk()) return model.status().withContext(path.string());
  return model;
}

}  // namespace vitq
