#include "report/accuracy_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "core/progress.h"
#include "exec/executor.h"
#include "ir/half.h"
#include "report/section_markdown.h"

namespace vitq {
namespace {

using nlohmann::json;

// Keeps handles to the tensors of the named values (shared buffers: no copies).
class CaptureHooks : public ExecHooks {
 public:
  explicit CaptureHooks(const std::unordered_set<std::string>& names) : names_(names) {}
  Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
    for (size_t i = 0; i < node.numOutputs(); ++i) {
      if (node.output(i) && names_.count(node.output(i)->name())) captured[node.output(i)->name()] = outputs[i];
    }
    return Status::ok();
  }
  std::unordered_map<std::string, Tensor> captured;

 private:
  const std::unordered_set<std::string>& names_;
};

// Top-1 accuracy of one output against one label per sample.
struct LabelScore {
  size_t correct = 0, total = 0;
  Status add(const Tensor& scores, int64_t label, size_t sample) {
    if (scores.dtype() != DataType::kFloat || scores.rank() < 1 || scores.numel() != scores.shape().back()) {
      return invalidArgument("labels need one row of class scores per sample; sample " + std::to_string(sample) +
                             " gives " + shapeToString(scores.shape()));
    }
    if (label >= scores.numel()) {
      return invalidArgument("the label of sample " + std::to_string(sample) + " is " + std::to_string(label) +
                             ", but the model's output has " + std::to_string(scores.numel()) + " classes");
    }
    const float* p = scores.data<float>();
    correct += (std::max_element(p, p + scores.numel()) - p) == label ? 1 : 0;
    ++total;
    return Status::ok();
  }
  double accuracy() const { return total ? static_cast<double>(correct) / static_cast<double>(total) : 0.0; }
};

}  // namespace

double round3(double v) { return std::isfinite(v) ? std::round(v * 1000.0) / 1000.0 : v; }

void ErrorStats::add(const Tensor& reference, const Tensor& quantized, bool top1) {
  if (reference.dtype() != DataType::kFloat || quantized.dtype() != DataType::kFloat ||
      reference.numel() != quantized.numel()) {
    return;
  }
  const float* r = reference.data<float>();
  const float* q = quantized.data<float>();
  for (int64_t i = 0; i < reference.numel(); ++i) {
    const double d = static_cast<double>(q[i]) - r[i];
    signal += static_cast<double>(r[i]) * r[i];
    noise += d * d;
    dot += static_cast<double>(r[i]) * q[i];
    ref_norm += static_cast<double>(r[i]) * r[i];
    q_norm += static_cast<double>(q[i]) * q[i];
    max_abs = std::max(max_abs, std::fabs(d));
  }
  if (top1 && reference.rank() >= 2 && reference.shape().back() >= 2) {
    const int64_t classes = reference.shape().back();
    for (int64_t row = 0; row < reference.numel() / classes; ++row) {
      const float* rr = r + row * classes;
      const float* qq = q + row * classes;
      agree += (std::max_element(rr, rr + classes) - rr) == (std::max_element(qq, qq + classes) - qq) ? 1 : 0;
      ++rows;
    }
  }
}

double ErrorStats::sqnrDb() const {
  if (noise == 0) return INFINITY;
  return 10.0 * std::log10(signal / noise);
}

double ErrorStats::cosine() const {
  if (ref_norm == 0 || q_norm == 0) return ref_norm == q_norm ? 1.0 : 0.0;
  return dot / std::sqrt(ref_norm * q_norm);
}

StatusOr<json> compareModels(const Model& reference, const Model& quantized, const Dataset& data,
                             const std::vector<std::string>& layer_values, const CompareOptions& options) {
  VITQ_ASSIGN_OR_RETURN(Executor ref_exec, Executor::create(*reference.graph, reference.opsetVersion(""), {options.threads}));
  VITQ_ASSIGN_OR_RETURN(Executor q_exec, Executor::create(*quantized.graph, quantized.opsetVersion(""), {options.threads}));
  const std::unordered_set<std::string> names(layer_values.begin(), layer_values.end());
  std::map<std::string, ErrorStats> outputs, layers;
  const size_t n = options.max_samples ? std::min(options.max_samples, data.size()) : data.size();
  if (n == 0) return invalidArgument("no samples to compare on");
  if (!options.labels.empty() && options.labels.size() < n) {
    return invalidArgument(std::to_string(options.labels.size()) + " labels for " + std::to_string(n) + " samples");
  }
  const std::string first_output = reference.graph->outputs().empty() ? "" : reference.graph->outputs()[0]->name();
  LabelScore ref_score, q_score;
  Progress progress("comparing with float", n);
  for (size_t i = 0; i < n; ++i, progress.advance()) {
    VITQ_ASSIGN_OR_RETURN(TensorMap feeds, data.sample(i));
    CaptureHooks ref_hooks(names), q_hooks(names);
    VITQ_ASSIGN_OR_RETURN(TensorMap ref_out, ref_exec.run(feeds, &ref_hooks));
    VITQ_ASSIGN_OR_RETURN(TensorMap q_out, q_exec.run(feeds, &q_hooks));
    // A float16 model's outputs (its interface keeps the type) are compared in float32.
    for (auto& [name, t] : ref_out) t = widenToFloat(t);
    for (auto& [name, t] : q_out) t = widenToFloat(t);
    for (const auto& [name, t] : ref_out) {
      auto it = q_out.find(name);
      if (it != q_out.end()) outputs[name].add(t, it->second, true);
    }
    if (!options.labels.empty()) {
      VITQ_RETURN_IF_ERROR(ref_score.add(ref_out[first_output], options.labels[i], i));
      VITQ_RETURN_IF_ERROR(q_score.add(q_out[first_output], options.labels[i], i));
    }
    for (const auto& [name, t] : ref_hooks.captured) {
      auto it = q_hooks.captured.find(name);
      if (it != q_hooks.captured.end()) layers[name].add(t, it->second, false);
    }
  }
  json report;
  report["samples"] = n;
  json outs = json::array();
  for (const auto& [name, s] : outputs) {
    json o{{"name", name}, {"sqnr_db", round3(s.sqnrDb())}, {"cosine", s.cosine()}, {"max_abs_error", s.max_abs}};
    if (s.rows) o["top1_agreement"] = static_cast<double>(s.agree) / static_cast<double>(s.rows);
    outs.push_back(o);
  }
  report["outputs"] = outs;
  // Layers in graph order, then the worst ten by SQNR.
  json per_layer = json::array();
  std::vector<std::pair<double, std::string>> ranked;
  for (const auto& node : reference.graph->nodes()) {
    for (const Value* v : node->outputs()) {
      if (!v || !layers.count(v->name())) continue;
      const ErrorStats& s = layers[v->name()];
      per_layer.push_back({{"value", v->name()}, {"node", node->name()}, {"op", node->opType()},
                           {"sqnr_db", round3(s.sqnrDb())}, {"cosine", s.cosine()}});
      ranked.emplace_back(s.sqnrDb(), v->name());
    }
  }
  report["layers"] = per_layer;
  std::sort(ranked.begin(), ranked.end());
  json worst = json::array();
  for (size_t i = 0; i < ranked.size() && i < 10; ++i) worst.push_back(ranked[i].second);
  report["most_damaged_layers"] = worst;
  double min_sqnr = INFINITY;
  for (const auto& r : ranked) min_sqnr = std::min(min_sqnr, r.first);
  report["summary"] = {{"sqnr_min_db", ranked.empty() ? json(nullptr) : json(round3(min_sqnr))}};
  if (!outs.empty()) {
    report["summary"]["output_sqnr_db"] = outs[0]["sqnr_db"];
    report["summary"]["output_cosine"] = outs[0]["cosine"];
    if (outs[0].contains("top1_agreement")) report["summary"]["top1_agreement"] = outs[0]["top1_agreement"];
  }
  if (!options.labels.empty()) {
    const double drop = 100.0 * (ref_score.accuracy() - q_score.accuracy());
    report["accuracy"] = {{"output", first_output}, {"samples", n}, {"float_top1", ref_score.accuracy()},
                          {"quantized_top1", q_score.accuracy()}, {"top1_drop", drop}};
    report["summary"]["top1_accuracy"] = q_score.accuracy();
    report["summary"]["top1_drop"] = drop;
  }
  return report;
}

std::string accuracyMarkdown(const json& r, size_t sensitivity_rows) {
  std::ostringstream os;
  auto num = [](const json& v) {
    if (v.is_null()) return std::string("-");
    std::ostringstream s;
    s.precision(4);
    s << v.get<double>();
    return s.str();
  };
  os << "## Accuracy against the float model (" << r["samples"].get<size_t>() << " samples)\n\n";
  os << "| output | SQNR dB | cosine | max abs error | top-1 agreement |\n|---|---|---|---|---|\n";
  for (const auto& o : r["outputs"]) {
    os << "| " << escapeMarkdown(o["name"].get<std::string>()) << " | " << num(o["sqnr_db"]) << " | " << num(o["cosine"]) << " | "
       << num(o["max_abs_error"]) << " | " << (o.contains("top1_agreement") ? num(o["top1_agreement"]) : "-") << " |\n";
  }
  os << "\n### Ten most damaged layers\n\n| value | op | SQNR dB | cosine |\n|---|---|---|---|\n";
  for (const auto& name : r["most_damaged_layers"]) {
    for (const auto& l : r["layers"]) {
      if (l["value"] == name) {
        os << "| " << escapeMarkdown(l["value"].get<std::string>()) << " | " << escapeMarkdown(l["op"].get<std::string>())
           << " | " << num(l["sqnr_db"])
           << " | " << num(l["cosine"]) << " |\n";
      }
    }
  }
  if (r.contains("accuracy")) os << labelledAccuracyMarkdown(r["accuracy"]);
  if (r.contains("budget")) os << budgetMarkdown(r["budget"]);
  if (r.contains("sensitivity")) os << sensitivityMarkdown(r["sensitivity"], sensitivity_rows);
  return os.str();
}

}  // namespace vitq
