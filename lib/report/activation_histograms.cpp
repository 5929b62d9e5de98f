#include "report/activation_histograms.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <unordered_set>

#include "exec/executor.h"

namespace vitq {
namespace {

// Two passes over the samples: the range of each named value, then its histogram over that range
// (memory stays one run's tensors, whatever the number of samples).
class HistogramHooks : public ExecHooks {
 public:
  struct Entry {
    float lo = std::numeric_limits<float>::infinity(), hi = -std::numeric_limits<float>::infinity();
    std::vector<uint64_t> counts;
  };
  explicit HistogramHooks(const std::unordered_set<std::string>& names) : names_(names) {}
  Status afterNode(const Node& node, const std::vector<const Tensor*>&, std::vector<Tensor>& outputs) override {
    for (size_t i = 0; i < node.numOutputs(); ++i) {
      const Value* v = node.output(i);
      if (!v || !names_.count(v->name()) || outputs[i].dtype() != DataType::kFloat) continue;
      Entry& e = entries[v->name()];
      const float* p = outputs[i].data<float>();
      for (int64_t k = 0; k < outputs[i].numel(); ++k) {
        if (e.counts.empty()) {
          e.lo = std::min(e.lo, p[k]);
          e.hi = std::max(e.hi, p[k]);
        } else {
          const double at = (static_cast<double>(p[k]) - e.lo) / (static_cast<double>(e.hi) - e.lo);
          ++e.counts[std::min(static_cast<size_t>(std::max(at, 0.0) * static_cast<double>(e.counts.size())),
                              e.counts.size() - 1)];
        }
      }
    }
    return Status::ok();
  }
  std::map<std::string, Entry> entries;

 private:
  const std::unordered_set<std::string>& names_;
};

float scalarOf(const Value* v) {
  if (!v || !v->isConstant() || v->initializer().numel() != 1) return std::numeric_limits<float>::quiet_NaN();
  const Tensor& t = v->initializer();
  switch (t.dtype()) {
    case DataType::kFloat: return t.data<float>()[0];
    case DataType::kUInt8: return t.data<uint8_t>()[0];
    case DataType::kInt8: return t.data<int8_t>()[0];
    default: return std::numeric_limits<float>::quiet_NaN();
  }
}

// The float span a quantizer of \p v keeps in \p graph: its Clip's bounds, else its QuantizeLinear's
// integer range times the scale.
std::optional<std::pair<float, float>> quantizerSpan(const Graph& graph, const std::string& name) {
  const Value* v = graph.findValue(name);
  if (!v) return std::nullopt;
  for (const auto& use : v->uses()) {
    const Node* n = use.user;
    if (n->is("Clip") && n->numInputs() >= 3) {
      const float lo = scalarOf(n->input(1)), hi = scalarOf(n->input(2));
      if (std::isfinite(lo) && std::isfinite(hi)) return std::make_pair(lo, hi);
    }
    if (n->is("QuantizeLinear") && n->numInputs() >= 3) {
      const float scale = scalarOf(n->input(1)), zero = scalarOf(n->input(2));
      if (!std::isfinite(scale) || !std::isfinite(zero)) continue;
      const bool is_signed = n->input(2)->initializer().dtype() == DataType::kInt8;
      float qmin = is_signed ? -128.0f : 0.0f, qmax = is_signed ? 127.0f : 255.0f;
      // A narrow grid clips the codes after the quantizer (materialize_qdq.h).
      const std::vector<Use>& readers = n->output(0)->uses();
      if (readers.size() == 1 && readers[0].user->is("Clip") && readers[0].user->numInputs() >= 3) {
        qmin = scalarOf(readers[0].user->input(1));
        qmax = scalarOf(readers[0].user->input(2));
      }
      return std::make_pair((qmin - zero) * scale, (qmax - zero) * scale);
    }
  }
  return std::nullopt;
}

}  // namespace

StatusOr<nlohmann::json> activationHistograms(const Model& reference, const Model& quantized, const Dataset& data,
                                              const std::vector<std::string>& values, int bins, size_t max_samples,
                                              int threads) {
  const std::unordered_set<std::string> names(values.begin(), values.end());
  HistogramHooks hooks(names);
  VITQ_ASSIGN_OR_RETURN(Executor exec, Executor::create(*reference.graph, reference.opsetVersion(""), {threads}));
  const size_t n = max_samples ? std::min(max_samples, data.size()) : data.size();
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < n; ++i) {
      VITQ_ASSIGN_OR_RETURN(TensorMap feeds, data.sample(i));
      VITQ_RETURN_IF_ERROR(exec.run(feeds, &hooks).status());
    }
    for (auto& [name, e] : hooks.entries) {
      if (pass == 0 && e.hi > e.lo) e.counts.assign(static_cast<size_t>(bins), 0);
    }
  }
  nlohmann::json out = nlohmann::json::array();
  for (const auto& name : values) {
    auto it = hooks.entries.find(name);
    if (it == hooks.entries.end() || it->second.counts.empty()) continue;
    nlohmann::json h{{"value", name}, {"min", it->second.lo}, {"max", it->second.hi}, {"bins", it->second.counts}};
    if (auto span = quantizerSpan(*quantized.graph, name)) {
      h["quant_min"] = span->first;
      h["quant_max"] = span->second;
    }
    out.push_back(h);
  }
  return out;
}

}  // namespace vitq
