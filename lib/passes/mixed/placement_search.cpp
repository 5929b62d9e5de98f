#include "passes/mixed/placement_search.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/logging.h"
#include "onnx_io/model_clone.h"
#include "passes/mixed/config_evaluator.h"
#include "passes/mixed/quant_units.h"
#include "passes/ptq/materialize_qdq.h"
#include "report/ort_cpu_forecast.h"

namespace vitq {
namespace {

double round3(double x) { return std::isfinite(x) ? std::round(x * 1000.0) / 1000.0 : x; }

// The layers ONNX Runtime would fuse into integer kernels if their outputs were quantized, read
// from the materialized \p table.
StatusOr<std::vector<std::string>> requantizable(const Model& prepared, const QuantTable& table) {
  VITQ_ASSIGN_OR_RETURN(Model copy, cloneModel(prepared));
  VITQ_ASSIGN_OR_RETURN(QuantTable mapped, remapTable(table, *copy.graph));
  VITQ_RETURN_IF_ERROR(materializeQdq(*copy.graph, mapped).status());
  std::vector<std::string> names;
  for (const OrtLayerForecast& f : forecastOrtCpuKernels(*copy.graph).quantized) {
    if (f.fuses_if_requantized) names.push_back(f.node);
  }
  return names;
}

const Value* outputOf(const Graph& g, const std::string& node) {
  for (const auto& n : g.nodes()) {
    if (n->name() == node) return n->output(0);
  }
  return nullptr;
}

QuantTable withOutputs(const QuantTable& base, const QuantTable& full, const std::vector<const Value*>& outputs) {
  QuantTable t = base;
  for (const Value* v : outputs) {
    if (const TensorQuant* q = full.find(v)) t.set(v, *q);
  }
  return t;
}

}  // namespace

StatusOr<PlacementSearchResult> searchRequantizedOutputs(const Model& reference, const Model& working,
                                                         const Dataset& calib, const Dataset& judge,
                                                         const PipelineOptions& options, double tolerance_db) {
  auto log = logger("vitq.placement");
  const auto start = std::chrono::steady_clock::now();
  PipelineOptions plain = options;
  plain.final_run = false;
  VITQ_ASSIGN_OR_RETURN(Model model, cloneModel(working));
  VITQ_ASSIGN_OR_RETURN(PreparedQuantization base, prepareQuantization(model, calib, plain));
  VITQ_ASSIGN_OR_RETURN(std::vector<std::string> names, requantizable(model, base.table));

  PlacementSearchResult result;
  VITQ_ASSIGN_OR_RETURN(ConfigEvaluator evaluator, ConfigEvaluator::create(reference, model, judge, options.threads));
  VITQ_ASSIGN_OR_RETURN(ConfigMetrics baseline, evaluator.evaluate(base.table));
  result.baseline_sqnr_db = result.final_sqnr_db = baseline.sqnr_db;
  result.report = {{"candidates", names.size()}, {"tolerance_db", tolerance_db},
                   {"baseline_sqnr_db", round3(baseline.sqnr_db)}};
  if (names.empty()) {
    result.report["requantized"] = 0;
    return result;
  }

  // Every candidate's output calibrated once, with the recipe's range method (the model is already
  // rewritten: plan and calibrate only).
  PipelineOptions rung = plain;
  rung.ln_reparam = false;
  rung.quant.requantized_outputs = names;
  PipelineReport unused;
  VITQ_ASSIGN_OR_RETURN(QuantTable full, calibrateQuantTable(model, calib, rung, {}, unused));

  struct Cost {
    std::string node;
    const Value* output;
    double sqnr_db;
  };
  std::vector<Cost> costs;
  for (const std::string& name : names) {
    const Value* v = outputOf(*model.graph, name);
    if (!v || !full.has(v)) continue;
    VITQ_ASSIGN_OR_RETURN(ConfigMetrics m, evaluator.evaluate(withOutputs(base.table, full, {v})));
    costs.push_back({name, v, m.sqnr_db});
  }
  // Cheapest first: the highest SQNR with that one output quantized (graph order on a tie).
  std::stable_sort(costs.begin(), costs.end(), [](const Cost& a, const Cost& b) { return a.sqnr_db > b.sqnr_db; });
  auto firstOutputs = [&costs](size_t k) {
    std::vector<const Value*> out;
    for (size_t i = 0; i < k; ++i) out.push_back(costs[i].output);
    return out;
  };
  // The most outputs, cheapest first, whose quantizers together keep the SQNR within the tolerance.
  const double floor_db = baseline.sqnr_db - tolerance_db;
  size_t lo = 0, hi = costs.size();
  double lo_sqnr = baseline.sqnr_db;
  VITQ_ASSIGN_OR_RETURN(ConfigMetrics all, evaluator.evaluate(withOutputs(base.table, full, firstOutputs(hi))));
  if (all.sqnr_db >= floor_db) {
    lo = hi;
    lo_sqnr = all.sqnr_db;
  }
  while (hi - lo > 1) {
    const size_t mid = lo + (hi - lo) / 2;
    VITQ_ASSIGN_OR_RETURN(ConfigMetrics m, evaluator.evaluate(withOutputs(base.table, full, firstOutputs(mid))));
    if (m.sqnr_db >= floor_db) {
      lo = mid;
      lo_sqnr = m.sqnr_db;
    } else {
      hi = mid;
    }
  }
  result.final_sqnr_db = lo_sqnr;
  std::vector<std::string> chosen;
  for (size_t i = 0; i < lo; ++i) chosen.push_back(costs[i].node);
  for (const std::string& name : names) {  // graph order
    if (std::find(chosen.begin(), chosen.end(), name) != chosen.end()) result.requantized.push_back(name);
  }
  nlohmann::json layers = nlohmann::json::array();
  for (size_t i = 0; i < costs.size(); ++i) {
    layers.push_back({{"node", costs[i].node}, {"sqnr_db_alone", round3(costs[i].sqnr_db)}, {"requantized", i < lo}});
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.report["requantized"] = result.requantized.size();
  result.report["final_sqnr_db"] = round3(lo_sqnr);
  result.report["evaluations"] = evaluator.evaluations();
  result.report["seconds"] = round3(seconds);
  result.report["layers"] = layers;
  log->info("placement search: {} of {} float layers requantized for ONNX Runtime's integer kernels, output SQNR "
            "{:.2f} -> {:.2f} dB on {} samples ({} evaluations, {:.1f} s)",
            result.requantized.size(), costs.size(), baseline.sqnr_db, lo_sqnr, evaluator.samples(),
            evaluator.evaluations(), seconds);
  return result;
}

}  // namespace vitq
