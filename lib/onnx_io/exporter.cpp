#include "onnx_io/exporter.h"

#include "ir/verifier.h"
#include "onnx_io/atomic_file.h"
#include "onnx_io/model_file.h"
#include "onnx_io/tensor_proto.h"
#include "onnx_io/type_proto.h"

namespace vitq {
namespace {

void restoreUnknownFields(const std::string& bytes, google::protobuf::Message* msg) {
  if (bytes.empty()) return;
  msg->GetReflection()->MutableUnknownFields(msg)->ParseFromString(bytes);
}

void exportGraph(const Graph& graph, onnx::GraphProto* gp, size_t omit_data_from_bytes = 0);

void exportAttribute(const std::string& name, const Attribute& a, onnx::AttributeProto* ap) {
  using AP = onnx::AttributeProto;
  if (a.kind == AttributeKind::kOpaque) {
    ap->ParseFromString(a.s);
    return;
  }
  ap->set_name(name);
  if (!a.doc_string.empty()) ap->set_doc_string(a.doc_string);
  switch (a.kind) {
    case AttributeKind::kFloat: ap->set_type(AP::FLOAT); ap->set_f(a.f); break;
    case AttributeKind::kInt: ap->set_type(AP::INT); ap->set_i(a.i); break;
    case AttributeKind::kString: ap->set_type(AP::STRING); ap->set_s(a.s); break;
    case AttributeKind::kTensor: ap->set_type(AP::TENSOR); tensorToProto(a.t, ap->mutable_t()); break;
    case AttributeKind::kFloats:
      ap->set_type(AP::FLOATS);
      for (float f : a.floats) ap->add_floats(f);
      break;
    case AttributeKind::kInts:
      ap->set_type(AP::INTS);
      for (int64_t i : a.ints) ap->add_ints(i);
      break;
    case AttributeKind::kStrings:
      ap->set_type(AP::STRINGS);
      for (const auto& s : a.strings) ap->add_strings(s);
      break;
    case AttributeKind::kTensors:
      ap->set_type(AP::TENSORS);
      for (const auto& t : a.tensors) tensorToProto(t, ap->add_tensors());
      break;
    case AttributeKind::kGraph:
      ap->set_type(AP::GRAPH);
      exportGraph(*a.graphs.at(0), ap->mutable_g());
      break;
    case AttributeKind::kGraphs:
      ap->set_type(AP::GRAPHS);
      for (const auto& g : a.graphs) exportGraph(*g, ap->add_graphs());
      break;
    case AttributeKind::kOpaque: break;
  }
}

void exportValueInfo(const Value& v, onnx::ValueInfoProto* vi) {
  vi->set_name(v.name());
  if (!v.doc_string.empty()) vi->set_doc_string(v.doc_string);
  if (v.type().dtype != DataType::kUndefined || !v.opaqueType().empty()) writeTypeProto(v, vi->mutable_type());
}

void exportGraph(const Graph& graph, onnx::GraphProto* gp, size_t omit_data_from_bytes) {
  if (!graph.preserved_fields.empty()) gp->ParseFromString(graph.preserved_fields);
  gp->set_name(graph.name());
  if (!graph.doc_string.empty()) gp->set_doc_string(graph.doc_string);
  for (const Value* in : graph.inputs()) exportValueInfo(*in, gp->add_input());
  for (const Value* init : graph.initializers()) {
    auto* tp = gp->add_initializer();
    const Tensor& t = init->initializer();
    if (omit_data_from_bytes > 0 && t.dtype() != DataType::kString && t.byteSize() >= omit_data_from_bytes) {
      tp->set_data_type(static_cast<int32_t>(t.dtype()));
      for (int64_t d : t.shape()) tp->add_dims(d);
    } else {
      tensorToProto(t, tp);
    }
    tp->set_name(init->name());
  }
  for (const auto& node : graph.nodes()) {
    auto* np = gp->add_node();
    restoreUnknownFields(node->unknown_fields, np);
    for (const Value* in : node->inputs()) np->add_input(in ? in->name() : std::string());
    for (const Value* out : node->outputs()) np->add_output(out ? out->name() : std::string());
    if (!node->name().empty()) np->set_name(node->name());
    np->set_op_type(node->opType());
    if (!node->domain().empty()) np->set_domain(node->domain());
    if (!node->doc_string.empty()) np->set_doc_string(node->doc_string);
    for (const auto& [name, attr] : node->attrs()) exportAttribute(name, attr, np->add_attribute());
  }
  for (const auto& node : graph.nodes()) {
    for (const Value* out : node->outputs()) {
      if (out && out->typeDeclared() && !graph.isOutput(out)) exportValueInfo(*out, gp->add_value_info());
    }
  }
  for (const Value* out : graph.outputs()) exportValueInfo(*out, gp->add_output());
}

size_t initializerBytes(const Graph& graph) {
  size_t total = 0;
  for (const Value* v : graph.initializers()) total += v->initializer().byteSize();
  return total;
}

// Moves large raw_data initializers of the main graph into \p data; records their location.
void externalize(onnx::GraphProto* gp, const std::string& location, size_t min_bytes, std::string& data) {
  for (auto& tp : *gp->mutable_initializer()) {
    if (!tp.has_raw_data() || tp.raw_data().size() < min_bytes) continue;
    // 4 KiB alignment lets readers mmap each tensor.
    data.resize((data.size() + 4095) / 4096 * 4096, '\0');
    const size_t offset = data.size();
    data += tp.raw_data();
    const size_t length = tp.raw_data().size();
    tp.clear_raw_data();
    tp.set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&tp](const std::string& k, const std::string& v) {
      auto* e = tp.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(length));
  }
}

}  // namespace

onnx::ModelProto exportModel(const Model& model, const ExportOptions& options) {
  onnx::ModelProto proto;
  restoreUnknownFields(model.unknown_fields, &proto);
  proto.set_ir_version(model.ir_version);
  for (const auto& op : model.opset_imports) {
    auto* o = proto.add_opset_import();
    o->set_domain(op.domain);
    o->set_version(op.version);
  }
  if (!model.producer_name.empty()) proto.set_producer_name(model.producer_name);
  if (!model.producer_version.empty()) proto.set_producer_version(model.producer_version);
  if (!model.domain.empty()) proto.set_domain(model.domain);
  if (model.model_version) proto.set_model_version(model.model_version);
  if (!model.doc_string.empty()) proto.set_doc_string(model.doc_string);
  for (const auto& [k, v] : model.metadata_props) {
    auto* e = proto.add_metadata_props();
    e->set_key(k);
    e->set_value(v);
  }
  for (const auto& f : model.functions) proto.add_functions()->ParseFromString(f);
  for (const auto& t : model.training_info) proto.add_training_info()->ParseFromString(t);
  exportGraph(*model.graph, proto.mutable_graph(), options.omit_data_from_bytes);
  return proto;
}

Status saveModel(const Model& model, const std::filesystem::path& path, const SaveOptions& options) {
  constexpr size_t kAutoThreshold = size_t{1800} << 20;  // leave headroom under protobuf's 2 GB
  // Nothing malformed is written: a pass that broke the graph fails here, naming the node.
  VITQ_RETURN_IF_ERROR(verifyModel(model).withContext("not writing '" + path.string() + "'"));
  onnx::ModelProto proto = exportModel(model);
  const bool external = options.external_data == ExternalData::kAlways ||
                        (options.external_data == ExternalData::kAuto &&
                         initializerBytes(*model.graph) > kAutoThreshold);
  AtomicFile data_file(path.string() + ".data");
  if (external) {
    std::string data;
    externalize(proto.mutable_graph(), path.filename().string() + ".data", options.external_min_bytes, data);
    VITQ_RETURN_IF_ERROR(data_file.write(data));
  }
  VITQ_ASSIGN_OR_RETURN(std::string bytes, serializeModelProto(proto));
  AtomicFile model_file(path);
  VITQ_RETURN_IF_ERROR(model_file.write(bytes));
  if (external) VITQ_RETURN_IF_ERROR(data_file.commit());
  return model_file.commit();
}

}  // namespace vitq
