// `vitq quantize MODEL --data DATA -o OUT.onnx [--recipe minmax|percentile] [--wbits N --abits N]
//  [--report R.json|R.md] [--fail-if METRIC<V ...]`: calibrate, quantize, export QDQ, report.
#include <algorithm>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>

#include "calib/dataset.h"
#include "calib/stats_file.h"
#include "core/logging.h"
#include "onnx_io/model_fingerprint.h"
#include "passes/canonicalize/raise_opset.h"
#include "passes/mixed/mixed_precision_plan.h"
#include "passes/ptq/plan_quantization.h"
#include "report/accuracy_report.h"
#include "report/ort_cpu_forecast.h"
#include "report/report_writer.h"
#include "vitq/auto_recipe.h"
#include "vitq/commands.h"
#include "vitq/fidelity_guard.h"
#include "vitq/gates.h"
#include "vitq/integer_export.h"
#include "vitq/paths.h"
#include "api/quantization_inputs.h"
#include "vitq/quantize_flags.h"
#include "vitq/quantize_report_sections.h"
#include "vitq/report_output.h"

namespace vitq::cli {
namespace {

// Statistics saved by `vitq calibrate` for this very model, as a calibration result.
StatusOr<CalibrationResult> loadSavedStats(const std::string& path, const Model& model, const std::string& model_path) {
  VITQ_ASSIGN_OR_RETURN(CalibrationStats stats, readStatsFile(path));
  VITQ_ASSIGN_OR_RETURN(std::string fingerprint, modelFingerprint(model));
  VITQ_RETURN_IF_ERROR(checkStatsBelongTo(stats, fingerprint, path, model_path));
  if (!stats.complete()) {
    logger("vitq.quantize")->warn("statistics '{}' cover {} of {} shards; merge them all with vitq merge-stats", path,
                                  stats.shards.size(), stats.shards.front().count);
  }
  CalibrationResult saved;
  saved.samples = stats.samples();
  saved.stats = std::move(stats.values);
  return saved;
}

// " (chosen by auto, placement inputs, smooth-quant 0.8)" after the recipe's name, when auto chose it.
std::string autoChoiceNote(bool auto_recipe, const QuantizeFlags& o) {
  if (!auto_recipe) return "";
  std::ostringstream note;
  note << " (chosen by auto, placement " << o.placement;
  if (o.smooth_alpha >= 0) note << ", smooth-quant " << o.smooth_alpha;
  if (!o.requantize.empty()) note << ", " << o.requantize.size() << " outputs requantized for ONNX Runtime";
  note << ")";
  return note.str();
}

// Flags that name one node (--layer-bits, --requantize) take its exact name.
bool hasNodeNamed(const Graph& g, const std::string& name) {
  return std::any_of(g.nodes().begin(), g.nodes().end(), [&name](const auto& n) { return n->name() == name; });
}

Status runQuantize(const QuantizeFlags& flags) {
  const QuantizeFlags user = withDefaultRecipe(flags);
  VITQ_RETURN_IF_ERROR(checkOutputs(
      {{"the input model", user.model}, {"--data", user.data}, {"--labels", user.labels}, {"--stats", user.stats}},
      {{"-o", user.output}, {"--report", user.report}}));
  const bool auto_recipe = user.recipe == "auto";
  if (auto_recipe) VITQ_RETURN_IF_ERROR(checkAutoFlags(user));
  QuantizeFlags o = auto_recipe ? firstFittingCandidate(user) : user;
  VITQ_ASSIGN_OR_RETURN(PipelineOptions po, pipelineOptionsFromFlags(o));
  VITQ_ASSIGN_OR_RETURN(std::vector<Gate> gates, parseGates(o.fail_if));
  VITQ_RETURN_IF_ERROR(checkGateMetrics(gates, !o.labels.empty()));
  if (!o.report.empty()) VITQ_RETURN_IF_ERROR(checkReportPath(o.report));
  std::optional<Budget> budget;
  if (!o.budget.empty()) {
    VITQ_ASSIGN_OR_RETURN(budget, parseBudget(o.budget));
  }
  VITQ_ASSIGN_OR_RETURN(QuantizationInputs in,
                        loadQuantizationInputs(o.model, o.data, {o.calib_samples, o.eval_samples, o.holdout}, o.threads,
                                               o.preprocess));
  nlohmann::json auto_report;
  if (auto_recipe) {
    VITQ_ASSIGN_OR_RETURN(AutoChoice choice, chooseRecipe(user, in));
    o = std::move(choice.flags);
    auto_report = std::move(choice.report);
    VITQ_ASSIGN_OR_RETURN(po, pipelineOptionsFromFlags(o));
  }
  const Model& reference = in.reference;
  Model& quantized = in.working;
  const std::vector<const Graph*> graphs{in.original.graph.get(), in.working.graph.get()};
  VITQ_RETURN_IF_ERROR(checkNodePatterns(graphs, o.exclude, "--exclude"));
  VITQ_RETURN_IF_ERROR(checkNodePatterns(graphs, o.noise_layers, "--noise-layers"));
  for (const auto& [name, bits] : po.quant.layer_bits) {
    if (!hasNodeNamed(*quantized.graph, name)) {
      return invalidArgument("--layer-bits '" + name + "=" + std::to_string(bits) + "': no node is named '" + name + "'");
    }
  }
  for (const std::string& name : po.quant.requantized_outputs) {
    if (!hasNodeNamed(*quantized.graph, name)) {
      return invalidArgument("--requantize '" + name + "': no node is named '" + name + "'");
    }
  }
  // --int4 raises the model to opset 21 at the end: refuse what cannot be raised before calibrating.
  if (po.four_bit_types) VITQ_RETURN_IF_ERROR(checkRaiseOpset(quantized, 21));
  CalibrationResult saved;
  if (!o.stats.empty()) {
    VITQ_ASSIGN_OR_RETURN(saved, loadSavedStats(o.stats, in.original, o.model));
    po.precomputed_stats = &saved;
    po.precomputed_source = o.stats;
  }
  CompareOptions compare{0, o.threads, {}};
  VITQ_ASSIGN_OR_RETURN(compare.labels, evalLabels(in, o.labels));  // checked before the long part
  if (po.integer_lowering) {
    return runIntegerExport(reference, quantized, *in.calib, *in.eval, po,
                            {o.model, o.output, o.report, recipeName(o), o.threads, compare.labels, !o.no_guard, gates});
  }
  std::optional<MixedPrecisionPlan> mixed;
  if (budget) {
    VITQ_ASSIGN_OR_RETURN(mixed, planMixedPrecision(reference, quantized, *in.calib, *in.eval, po, *budget));
    applyPlan(*mixed, po);
  }
  VITQ_ASSIGN_OR_RETURN(PipelineReport pr, quantizeModel(quantized, *in.calib, po));
  const QuantPlanSummary& plan = pr.plan;
  const MaterializeStats& ms = pr.materialized;
  if (po.four_bit_types && ms.four_bit_tensors == 0) {
    logger("vitq.quantize")->warn("--int4: no tensor is stored in 4 bits (4-bit activations of layers with wider "
                                  "weights stay in 8-bit containers: ONNX Runtime would fuse them into "
                                  "QLinearConv/QLinearMatMul, which reject 4-bit inputs)");
  }
  for (const std::string& why : ms.float_biases) logger("vitq.quantize")->warn("{}", why);
  if (plan.embedding_tables > 0 && !po.matmul_nbits) {
    logger("vitq.quantize")->warn("--embeddings: ONNX Runtime dequantizes a DequantizeLinear table whole on every run "
                                  "(MiniLM: 34 ms a sentence against 13 ms in float); --weight-format matmul-nbits "
                                  "writes GatherBlockQuantized, which dequantizes only the rows it reads");
  }
  quantized.producer_name = "vitq";

  const std::vector<std::string> layer_values = judgedLayerValues(*reference.graph);
  VITQ_ASSIGN_OR_RETURN(nlohmann::json report, compareModels(reference, quantized, *in.eval, layer_values, compare));
  report["model"] = o.model;
  report["output_model"] = o.output;
  addQuantizeSections(report, o, po, pr);
  addParameterBytes(report, *in.original.graph, *quantized.graph);
  report["ort_cpu"] = ortCpuSection(forecastOrtCpuKernels(*quantized.graph));
  const std::string slow_in_ort = ortCpuWarning(report["ort_cpu"], o.placement);
  if (!slow_in_ort.empty()) logger("vitq.quantize")->warn("{}", slow_in_ort);
  if (mixed) {
    report["sensitivity"] = mixed->sensitivity;
    report["budget"] = mixed->budget;
    // The written model's figures on the evaluation samples (an identical output has SQNR null: +inf).
    const nlohmann::json& summary = report["summary"];
    auto number = [&summary](const char* key, double missing) {
      return summary.contains(key) && summary[key].is_number() ? summary[key].get<double>() : missing;
    };
    ConfigMetrics final_metrics;
    final_metrics.sqnr_db = number("output_sqnr_db", std::numeric_limits<double>::infinity());
    final_metrics.cosine = number("output_cosine", 0.0);
    final_metrics.top1_agreement = number("top1_agreement", -1.0);
    report["budget"]["final"] = {{"budget_value", budget->value(final_metrics)}};
    report["budget"]["met"] = budget->holds(final_metrics);
  }
  if (auto_recipe) report["auto"] = auto_report;
  report["guard"] = o.no_guard ? "off" : "on";
  VITQ_RETURN_IF_ERROR(writeReport(report, o.report, {reference, quantized, *in.eval, o.threads, &in.original}));
  VITQ_RETURN_IF_ERROR(saveModelAfterReport(quantized, o.output, o.report));
  const std::string ort_line = ortCpuLine(report["ort_cpu"]);
  std::cout << "# vitq quantize: " << o.model << " -> " << o.output << "\n\n"
            << "recipe " << recipeName(o) << autoChoiceNote(auto_recipe, o) << ", W" << o.wbits
            << (po.quant.weights_only ? " weight-only (activations float)" : "A" + std::to_string(o.abits)) << ", "
            << plan.quantized_nodes << " of "
            << plan.compute_nodes << " compute nodes quantized, " << pr.calibration_samples << " calibration samples\n"
            << parametersLine(report["quantization"]) << "\n"
            << (ort_line.empty() ? "" : ort_line + "\n") << "\n"
            << accuracyMarkdown(report, 10);
  if (!o.no_guard) VITQ_RETURN_IF_ERROR(checkFidelity(report, o.output));
  if (mixed && !report["budget"]["met"].get<bool>()) {
    return Status(StatusCode::kGateFailed, "--budget " + o.budget + " is not met by the written model (" +
                                               report["budget"]["final"]["budget_value"].dump() + ")");
  }
  return enforceGates(gates, report["summary"]);
}

}  // namespace

void addQuantizeCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<QuantizeFlags>();
  auto* cmd = app.add_subcommand("quantize", "Calibrate and quantize a model; write QDQ ONNX and an accuracy report");
  addQuantizeFlags(*cmd, *o);
  cmd->callback([o, cmd, &action] {
    for (const CLI::Option* opt : cmd->get_options()) {
      if (opt->count() > 0) o->given.insert(opt->get_name());
    }
    action = [o]() { return runQuantize(*o); };
  });
}

}  // namespace vitq::cli
