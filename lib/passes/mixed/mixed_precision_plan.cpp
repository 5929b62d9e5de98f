#include "passes/mixed/mixed_precision_plan.h"

#include <chrono>
#include <cmath>

#include "core/logging.h"
#include "onnx_io/model_clone.h"
#include "passes/mixed/sensitivity.h"

namespace vitq {
namespace {

// Bits of each higher rung: 6 and 8 where they add precision to the base configuration.
std::vector<int> rungBits(const QuantOptions& base) {
  std::vector<int> bits;
  for (int b : {6, 8}) {
    if (b > base.weight_bits || b > base.activation_bits) bits.push_back(b);
  }
  return bits;
}

std::string levelName(int level, const std::vector<int>& bits, const QuantOptions& base) {
  if (level == kFloatLevel) return "float";
  if (level == 0) return "W" + std::to_string(base.weight_bits) + "A" + std::to_string(base.activation_bits);
  const int b = bits[static_cast<size_t>(level - 1)];
  return "W" + std::to_string(std::min(std::max(b, base.weight_bits), base.max_weight_bits)) + "A" +
         std::to_string(std::max(b, base.activation_bits));
}

nlohmann::json metricsJson(const ConfigMetrics& m, const Budget& budget) {
  nlohmann::json j;
  putMetrics(j, "", m);
  j["budget_value"] = budget.value(m);
  return j;
}

}  // namespace

StatusOr<MixedPrecisionPlan> planMixedPrecision(const Model& reference, const Model& working, const Dataset& calib,
                                                const Dataset& eval, const PipelineOptions& options,
                                                const Budget& budget) {
  // The final run reconstructs: refuse what it cannot before the search.
  VITQ_RETURN_IF_ERROR(checkReconstruction(working, options));
  auto log = logger("vitq.budget");
  const auto start = std::chrono::steady_clock::now();
  PipelineOptions plain = options;
  plain.final_run = false;
  VITQ_ASSIGN_OR_RETURN(Model search_model, cloneModel(working));
  VITQ_ASSIGN_OR_RETURN(PreparedQuantization base, prepareQuantization(search_model, calib, plain));
  const std::vector<int> bits = rungBits(options.quant);
  std::vector<QuantTable> higher;
  for (int b : bits) {
    PipelineOptions rung = plain;
    rung.ln_reparam = false;  // the model is already reparameterized; rungs calibrate it as it is
    rung.quant.weight_bits = std::max(b, options.quant.weight_bits);
    rung.quant.activation_bits = std::max(b, options.quant.activation_bits);
    PipelineReport unused;
    VITQ_ASSIGN_OR_RETURN(QuantTable t, calibrateQuantTable(search_model, calib, rung, {}, unused));
    higher.push_back(std::move(t));
  }
  std::vector<const QuantTable*> rungs{&base.table};
  for (const auto& t : higher) rungs.push_back(&t);

  const std::vector<QuantUnit> units = quantUnits(*search_model.graph, base.table);
  VITQ_ASSIGN_OR_RETURN(ConfigEvaluator evaluator,
                        ConfigEvaluator::create(reference, search_model, eval, options.threads));
  SensitivityOptions so;
  so.layers_all_but = false;
  so.activations = false;
  VITQ_ASSIGN_OR_RETURN(SensitivityResult ranked, analyzeSensitivity(units, base.table, evaluator, so));
  std::vector<size_t> ranking;
  for (const auto& s : ranked.layers) ranking.push_back(s.unit);
  VITQ_ASSIGN_OR_RETURN(BudgetResult found, searchBudget(units, ranking, rungs, evaluator, budget));

  MixedPrecisionPlan plan;
  plan.met = found.met;
  nlohmann::json kept = nlohmann::json::array();
  std::vector<int> rank_of(units.size(), 0);
  for (size_t r = 0; r < ranking.size(); ++r) rank_of[ranking[r]] = static_cast<int>(r) + 1;
  for (size_t u = 0; u < units.size(); ++u) {
    const int level = found.levels[u];
    if (level == 0) continue;
    nlohmann::json entry{{"node", units[u].node}, {"op", units[u].op}, {"from", levelName(0, bits, options.quant)},
                         {"to", levelName(level, bits, options.quant)}, {"rank", rank_of[u]},
                         {"why", "sensitivity rank " + std::to_string(rank_of[u]) + " of " +
                                     std::to_string(units.size()) + "; the budget fails with it at any lower precision"}};
    if (level == kFloatLevel) {
      plan.float_nodes.push_back(units[u].node);
    } else {
      plan.layer_bits.emplace_back(units[u].node, bits[static_cast<size_t>(level - 1)]);
      entry["layer_bits"] = plan.layer_bits.back().second;  // as --layer-bits NODE=BITS
    }
    kept.push_back(entry);
  }
  nlohmann::json steps = nlohmann::json::array();
  for (const auto& s : found.steps) {
    nlohmann::json j{{"phase", s.phase}, {"layers", s.units.size()}, {"to", levelName(s.level, bits, options.quant)},
                     {"holds", s.holds}};
    if (s.units.size() == 1) j["node"] = units[s.units[0]].node;
    j["budget_value"] = budget.value(s.metrics);
    steps.push_back(j);
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  plan.budget = {{"expression", budget.text}, {"met_on_search", found.met}, {"samples", evaluator.samples()},
                 {"evaluations", evaluator.evaluations()}, {"seconds", seconds},
                 {"node_runs_reused", std::round(evaluator.reuseSaving() * 1000.0) / 1000.0},
                 {"baseline", metricsJson(found.baseline, budget)}, {"searched", metricsJson(found.final_metrics, budget)},
                 {"kept", kept}, {"steps", steps}};
  plan.sensitivity = sensitivityJson(ranked, units, base.table);
  plan.sensitivity["samples"] = evaluator.samples();
  log->info("budget {}: {} layers raised, {} kept float, {} evaluations in {:.1f} s ({:.0f} % of node runs reused)",
            budget.text, plan.layer_bits.size(), plan.float_nodes.size(), evaluator.evaluations(), seconds,
            100.0 * evaluator.reuseSaving());
  return plan;
}

void applyPlan(const MixedPrecisionPlan& plan, PipelineOptions& options) {
  for (const auto& lb : plan.layer_bits) options.quant.layer_bits.push_back(lb);
  for (const auto& n : plan.float_nodes) options.quant.float_nodes.push_back(n);
}

}  // namespace vitq
