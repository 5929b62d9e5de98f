#include "report/model_summary.h"

#include <algorithm>
#include <sstream>

#include "pattern/bridge_blocks.h"
#include "pattern/transformer_patterns.h"
#include "quant/op_rules.h"

namespace vitq {
namespace {

using nlohmann::json;

json valueJson(const Value& v) {
  json j;
  j["name"] = v.name();
  j["dtype"] = v.opaqueType().empty() ? dataTypeName(v.type().dtype) : "non-tensor";
  if (v.type().dims) {
    json shape = json::array();
    for (const Dim& d : *v.type().dims) {
      if (d.isKnown()) shape.push_back(d.value);
      else shape.push_back(d.param.empty() ? "?" : d.param);
    }
    j["shape"] = shape;
  } else {
    j["shape"] = nullptr;
  }
  return j;
}

std::string nodeLabel(const Node* n) {
  if (!n) return "";
  if (!n->name().empty()) return n->name();
  return n->output(0) ? n->output(0)->name() : n->opType();
}

// A quantizable node as a user names it in --exclude or --layer-bits: its name, op, input and
// weight shapes, and the value reports judge it by (its bias Add's output where it has one).
json quantizableNodeJson(const Node& n) {
  json j{{"name", nodeLabel(&n)}, {"op", n.opType()}};
  j["input"] = n.input(0) ? valueJson(*n.input(0)) : json(nullptr);
  const Value* w = n.numInputs() > 1 ? n.input(1) : nullptr;
  j["weight"] = w && w->isConstant() ? json(w->initializer().shape()) : json(nullptr);
  const Value* out = n.output(0);
  std::string layer_value = out ? out->name() : "";
  if (out && out->uses().size() == 1 && out->uses()[0].user->is("Add")) layer_value = out->uses()[0].user->output(0)->name();
  j["output"] = out ? out->name() : "";
  j["layer_value"] = layer_value;
  return j;
}

void countOps(const Graph& g, std::map<std::string, int64_t>& hist, int64_t& nodes, int64_t& subgraphs) {
  for (const auto& n : g.nodes()) {
    ++nodes;
    ++hist[(n->domain().empty() ? "" : n->domain() + ".") + n->opType()];
    for (const Graph* sub : n->subgraphs()) {
      ++subgraphs;
      countOps(*sub, hist, nodes, subgraphs);
    }
  }
}

json transformerJson(const Graph& g) {
  json t;
  const auto lns = findLayerNorms(g);
  int64_t fused = 0;
  json ln_list = json::array();
  for (const auto& ln : lns) {
    fused += ln.fused ? 1 : 0;
    ln_list.push_back({{"form", ln.fused ? "fused" : "decomposed"},
                       {"input", ln.input->name()},
                       {"output", ln.output->name()},
                       {"epsilon", ln.epsilon},
                       {"nodes", ln.nodes.size()},
                       {"affine", ln.gamma != nullptr}});
  }
  t["layernorm"] = {{"fused", fused}, {"decomposed", static_cast<int64_t>(lns.size()) - fused}, {"list", ln_list}};
  std::map<std::string, int64_t> gelu_counts;
  for (const auto& g1 : findGelus(g)) ++gelu_counts[g1.spelling];
  t["gelu"] = gelu_counts;
  json att = json::array();
  for (const auto& a : findAttention(g)) {
    att.push_back({{"scores_matmul", nodeLabel(a.scores_matmul)},
                   {"softmax", nodeLabel(a.softmax)},
                   {"context_matmul", nodeLabel(a.context_matmul)}});
  }
  t["attention"] = att;
  json bridges = json::array();
  for (const auto& b : findBridges(g)) {
    json layout = json::array();
    for (const Node* n : b.layout_ops) layout.push_back(n->opType());
    bridges.push_back({{"direction", bridgeDirectionName(b.direction)},
                       {"conv", nodeLabel(b.conv)},
                       {"token_op", nodeLabel(b.token_op)},
                       {"token_op_type", b.token_op->opType()},
                       {"layout_ops", layout}});
  }
  t["bridges"] = bridges;
  json blocks = json::array();
  for (const auto& b : findBridgeBlocks(g)) {
    json weights = json::array();
    for (const Node* n : b.nodes) {
      const bool layer = quantRole(*n) == QuantRole::kCompute;
      if (layer && n->input(1) && n->input(1)->isConstant()) weights.push_back(nodeLabel(n));
    }
    json inputs = json::array();
    for (const Value* v : b.inputs) inputs.push_back(v->name());
    blocks.push_back({{"direction", bridgeDirectionName(b.bridge.direction)},
                      {"start", nodeLabel(b.bridge.direction == BridgeMatch::Direction::kConvToTransformer
                                              ? b.bridge.conv : b.bridge.token_op)},
                      {"output", b.output->name()},
                      {"nodes", b.nodes.size()},
                      {"inputs", inputs},
                      {"weighted_layers", weights}});
  }
  t["bridge_blocks"] = blocks;
  return t;
}

}  // namespace

ModelSummary summarizeModel(const Model& model, const ImportReport& import, const std::string& file) {
  const Graph& g = *model.graph;
  json j;
  j["file"] = file;
  j["ir_version"] = model.ir_version;
  j["producer"] = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  json opsets = json::array();
  for (const auto& op : model.opset_imports) opsets.push_back({{"domain", op.domain.empty() ? "ai.onnx" : op.domain}, {"version", op.version}});
  j["opsets"] = opsets;
  json inputs = json::array();
  for (const Value* v : g.inputs()) {
    if (!v->isInitializer()) inputs.push_back(valueJson(*v));
  }
  j["inputs"] = inputs;
  json outputs = json::array();
  for (const Value* v : g.outputs()) outputs.push_back(valueJson(*v));
  j["outputs"] = outputs;

  int64_t params = 0, tensors = 0, bytes = 0;
  for (const Value* v : g.initializers()) {
    ++tensors;
    bytes += static_cast<int64_t>(v->initializer().byteSize());
    if (isFloatingPoint(v->initializer().dtype())) params += v->initializer().numel();
  }
  j["parameters"] = {{"count", params},
                     {"initializers", tensors},
                     {"bytes", bytes},
                     {"lifted_from_constant_nodes", import.lifted_constants}};

  std::map<std::string, int64_t> hist;
  int64_t nodes = 0, subgraphs = 0;
  countOps(g, hist, nodes, subgraphs);
  j["nodes"] = nodes;
  j["subgraphs"] = subgraphs;
  std::vector<std::pair<std::string, int64_t>> sorted(hist.begin(), hist.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  json ops = json::array();
  for (const auto& [op, n] : sorted) ops.push_back({{"op", op}, {"count", n}});
  j["op_histogram"] = ops;

  std::map<std::string, int64_t> quantizable;
  int64_t quant_total = 0;
  json quantizable_nodes = json::array();
  for (const auto& n : g.nodes()) {
    if (quantRole(*n) == QuantRole::kCompute) {
      ++quantizable[n->opType()];
      ++quant_total;
      quantizable_nodes.push_back(quantizableNodeJson(*n));
    }
  }
  j["quantizable"] = {{"count", quant_total}, {"by_op", quantizable}};
  j["quantizable_nodes"] = quantizable_nodes;
  j["transformer"] = transformerJson(g);
  j["shape_inference"] = import.shapes_inferred;
  return ModelSummary{j};
}

std::string summaryToText(const ModelSummary& summary, bool list_nodes) {
  const json& j = summary.json;
  std::ostringstream os;
  auto shapeText = [](const json& v) {
    if (v["shape"].is_null()) return std::string("[?]");
    std::string s = "[";
    for (size_t i = 0; i < v["shape"].size(); ++i) {
      if (i) s += ",";
      const json& d = v["shape"][i];
      s += d.is_string() ? d.get<std::string>() : std::to_string(d.get<int64_t>());
    }
    return s + "]";
  };
  os << "model: " << j["file"].get<std::string>() << "\n";
  os << "  ir_version " << j["ir_version"] << ", producer '" << j["producer"].get<std::string>() << "', opsets:";
  for (const auto& o : j["opsets"]) os << " " << o["domain"].get<std::string>() << "=" << o["version"];
  os << "\n";
  for (const char* side : {"inputs", "outputs"}) {
    os << side << ":\n";
    for (const auto& v : j[side]) {
      os << "  " << v["name"].get<std::string>() << "  " << v["dtype"].get<std::string>() << shapeText(v) << "\n";
    }
  }
  const json& p = j["parameters"];
  os << "parameters: " << p["count"] << " float values in " << p["initializers"] << " initializers, "
     << p["bytes"] << " bytes (" << p["lifted_from_constant_nodes"] << " lifted from Constant nodes)\n";
  os << "nodes: " << j["nodes"];
  if (j["subgraphs"].get<int64_t>() > 0) os << " (" << j["subgraphs"] << " subgraphs)";
  os << "\nops:";
  for (const auto& o : j["op_histogram"]) os << " " << o["op"].get<std::string>() << "=" << o["count"];
  os << "\n";
  const json& t = j["transformer"];
  os << "transformer structures:\n";
  os << "  LayerNorm: " << t["layernorm"]["fused"] << " fused, " << t["layernorm"]["decomposed"] << " decomposed\n";
  os << "  GELU:";
  if (t["gelu"].empty()) os << " none";
  for (const auto& [k, v] : t["gelu"].items()) os << " " << k << "=" << v;
  os << "\n  attention blocks (MatMul-Softmax-MatMul): " << t["attention"].size() << "\n";
  for (const auto& a : t["attention"]) {
    os << "    " << a["scores_matmul"].get<std::string>() << " -> " << a["softmax"].get<std::string>() << " -> "
       << a["context_matmul"].get<std::string>() << "\n";
  }
  os << "  conv/transformer bridges: " << t["bridges"].size() << "\n";
  for (const auto& b : t["bridges"]) {
    os << "    " << b["direction"].get<std::string>() << ": " << b["conv"].get<std::string>() << " <-> "
       << b["token_op"].get<std::string>() << " (" << b["token_op_type"].get<std::string>() << ") via";
    for (const auto& l : b["layout_ops"]) os << " " << l.get<std::string>();
    os << "\n";
  }
  os << "  bridge blocks (reconstruction units): " << t["bridge_blocks"].size() << "\n";
  for (const auto& b : t["bridge_blocks"]) {
    os << "    " << b["direction"].get<std::string>() << ": " << b["start"].get<std::string>() << " .. "
       << b["output"].get<std::string>() << " (" << b["nodes"].get<size_t>() << " nodes, "
       << b["weighted_layers"].size() << " weighted layers:";
    for (const auto& w : b["weighted_layers"]) os << " " << w.get<std::string>();
    os << ")\n";
  }
  os << "quantizable nodes: " << j["quantizable"]["count"];
  for (const auto& [k, v] : j["quantizable"]["by_op"].items()) os << " " << k << "=" << v;
  os << "\n";
  if (list_nodes) {
    for (const auto& n : j["quantizable_nodes"]) {
      os << "  " << n["name"].get<std::string>() << "  " << n["op"].get<std::string>() << "  input "
         << (n["input"].is_null() ? std::string("-") : shapeText(n["input"])) << "  weight "
         << (n["weight"].is_null() ? std::string("-") : n["weight"].dump()) << "  value "
         << n["layer_value"].get<std::string>() << "\n";
    }
  }
  return os.str();
}

}  // namespace vitq
