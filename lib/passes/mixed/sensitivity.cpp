#include "passes/mixed/sensitivity.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/logging.h"
#include "core/progress.h"

namespace vitq {
namespace {

double rounded(double v) { return std::isfinite(v) ? std::round(v * 1000.0) / 1000.0 : v; }

int bitsOf(const QuantTable& table, const Value* v) {
  const TensorQuant* q = v ? table.find(v) : nullptr;
  return q ? q->spec.bits : 0;
}

}  // namespace

void putMetrics(nlohmann::json& out, const std::string& prefix, const ConfigMetrics& m) {
  out[prefix + "sqnr_db"] = rounded(m.sqnr_db);
  out[prefix + "cosine"] = m.cosine;
  if (m.top1_agreement >= 0) out[prefix + "top1_agreement"] = m.top1_agreement;
}

StatusOr<SensitivityResult> analyzeSensitivity(const std::vector<QuantUnit>& units, const QuantTable& table,
                                               const ConfigEvaluator& evaluator, const SensitivityOptions& options) {
  auto log = logger("vitq.sensitivity");
  SensitivityResult result;
  const std::vector<const QuantTable*> rungs{&table};
  const auto start = std::chrono::steady_clock::now();
  VITQ_ASSIGN_OR_RETURN(result.all_quantized, evaluator.evaluate(composeTable(units, UnitLevels(units.size(), 0), rungs)));
  size_t activations = 0;
  for (const Value* v : table.values()) activations += table.find(v)->role == QuantRoleOfValue::kActivation ? 1 : 0;
  // Each evaluation runs the model on every sample (at most all of it: what a configuration shares
  // with earlier ones is reused): say up front what the loop may take.
  const size_t evaluations = units.size() * (options.layers_all_but ? 2 : 1) + (options.activations ? activations : 0);
  const double each = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double expected = each * static_cast<double>(evaluations);
  // Shown without -v when it is long enough to decide whether to wait.
  log->log(expected > 60 ? spdlog::level::warn : spdlog::level::info,
           "sensitivity: {} evaluations on {} samples, up to {:.2f} s each: at most about {:.0f} s (fewer --eval-samples shorten it)",
           evaluations, evaluator.samples(), each, expected);
  Progress progress("sensitivity", evaluations);
  // One kind of configuration at a time, in graph order: each then shares the longest prefix with
  // the one before it (the float model up to the layer, or the quantized one), which the
  // evaluator's prefix reuse skips.
  for (size_t u = 0; u < units.size(); ++u) {
    UnitSensitivity s;
    s.unit = u;
    std::vector<const Value*> mine = units[u].activations;
    if (units[u].weight) mine.push_back(units[u].weight);
    if (units[u].bias) mine.push_back(units[u].bias);
    VITQ_ASSIGN_OR_RETURN(s.only, evaluator.evaluate(selectEntries(table, mine)));
    progress.advance();
    log->info("layer {}/{} {}: only {:.2f} dB", u + 1, units.size(), units[u].node, s.only.sqnr_db);
    result.layers.push_back(s);
  }
  for (size_t u = 0; options.layers_all_but && u < units.size(); ++u) {
    UnitLevels levels(units.size(), 0);
    levels[u] = kFloatLevel;
    VITQ_ASSIGN_OR_RETURN(result.layers[u].all_but, evaluator.evaluate(composeTable(units, levels, rungs)));
    result.layers[u].has_all_but = true;
    progress.advance();
  }
  std::stable_sort(result.layers.begin(), result.layers.end(), [](const UnitSensitivity& a, const UnitSensitivity& b) {
    if (a.only.sqnr_db != b.only.sqnr_db) return a.only.sqnr_db < b.only.sqnr_db;
    return a.all_but.sqnr_db > b.all_but.sqnr_db;
  });
  if (options.activations) {
    for (const Value* v : table.values()) {
      if (table.find(v)->role != QuantRoleOfValue::kActivation) continue;
      VITQ_ASSIGN_OR_RETURN(ConfigMetrics m, evaluator.evaluate(selectEntries(table, {v})));
      progress.advance();
      result.activations.emplace_back(v, m);
    }
    std::stable_sort(result.activations.begin(), result.activations.end(),
                     [](const auto& a, const auto& b) { return a.second.sqnr_db < b.second.sqnr_db; });
  }
  return result;
}

nlohmann::json sensitivityJson(const SensitivityResult& result, const std::vector<QuantUnit>& units,
                               const QuantTable& table) {
  nlohmann::json out;
  out["metric"] = "only_sqnr_db";
  putMetrics(out["all_quantized"], "", result.all_quantized);
  nlohmann::json layers = nlohmann::json::array();
  int rank = 0;
  for (const auto& s : result.layers) {
    const QuantUnit& unit = units[s.unit];
    nlohmann::json l{{"rank", ++rank}, {"node", unit.node}, {"op", unit.op}};
    if (unit.weight) l["weight_bits"] = bitsOf(table, unit.weight);
    if (!unit.activations.empty()) l["activation_bits"] = bitsOf(table, unit.activations.front());
    putMetrics(l, "only_", s.only);
    if (s.has_all_but) putMetrics(l, "all_but_", s.all_but);
    layers.push_back(l);
  }
  out["layers"] = layers;
  nlohmann::json activations = nlohmann::json::array();
  rank = 0;
  for (const auto& [v, m] : result.activations) {
    nlohmann::json a{{"rank", ++rank}, {"value", v->name()}, {"bits", bitsOf(table, v)}};
    putMetrics(a, "only_", m);
    activations.push_back(a);
  }
  out["activations"] = activations;
  return out;
}

}  // namespace vitq
