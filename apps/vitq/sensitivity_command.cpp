// `vitq sensitivity MODEL --data DATA [--recipe R --wbits N --abits N] [--report R.json|R.md]`:
// calibrates once, then ranks every quantized layer (and activation quantizer) by the end-to-end
// error of quantizing only it, and of quantizing all but it. Writes no model.
#include <chrono>
#include <cmath>
#include <iostream>

#include "core/logging.h"
#include "onnx_io/model_clone.h"
#include "passes/mixed/sensitivity.h"
#include "passes/ptq/materialize_qdq.h"
#include "passes/ptq/recipes.h"
#include "report/accuracy_report.h"
#include "report/section_markdown.h"
#include "vitq/commands.h"
#include "vitq/option_checks.h"
#include "vitq/paths.h"
#include "api/quantization_inputs.h"
#include "report/report_writer.h"
#include "vitq/report_output.h"

namespace vitq::cli {
namespace {

struct Options {
  std::string model, data, report, recipe = "minmax", preprocess, placement = "integer";
  double smooth_alpha = -1;  // negative: no smoothing
  int wbits = 8, abits = 8, threads = 1, top = 15;
  size_t calib_samples = 0, eval_samples = 0, holdout = 0;
  bool reduce_range = false, no_all_but = false, no_activations = false;
};

Status runSensitivity(const Options& o) {
  const auto start = std::chrono::steady_clock::now();
  VITQ_RETURN_IF_ERROR(checkOutputs({{"the input model", o.model}, {"--data", o.data}}, {{"--report", o.report}}));
  if (!o.report.empty()) VITQ_RETURN_IF_ERROR(checkReportPath(o.report));
  PipelineOptions po;
  VITQ_RETURN_IF_ERROR(applyRecipe(o.recipe, po));
  po.quant.weight_bits = o.wbits;
  po.quant.activation_bits = o.abits;
  if (o.reduce_range) po.quant.max_weight_bits = 7;
  po.quant.quantize_outputs = o.placement == "integer";
  if (o.smooth_alpha >= 0) po.smooth_alpha = o.smooth_alpha;
  po.threads = o.threads;
  // Sensitivity compares plain configurations; learned rounding and noise belong to the final run.
  po.final_run = false;
  VITQ_ASSIGN_OR_RETURN(QuantizationInputs in,
                        loadQuantizationInputs(o.model, o.data, {o.calib_samples, o.eval_samples, o.holdout}, o.threads,
                                               o.preprocess));
  VITQ_ASSIGN_OR_RETURN(PreparedQuantization prepared, prepareQuantization(in.working, *in.calib, po));
  const std::vector<QuantUnit> units = quantUnits(*in.working.graph, prepared.table);
  VITQ_ASSIGN_OR_RETURN(ConfigEvaluator evaluator,
                        ConfigEvaluator::create(in.reference, in.working, *in.eval, o.threads));
  SensitivityOptions so;
  so.layers_all_but = !o.no_all_but;
  so.activations = !o.no_activations;
  VITQ_ASSIGN_OR_RETURN(SensitivityResult result, analyzeSensitivity(units, prepared.table, evaluator, so));

  // The fully quantized model's accuracy report carries the ranking.
  VITQ_ASSIGN_OR_RETURN(Model quantized, cloneModel(in.working));
  VITQ_ASSIGN_OR_RETURN(QuantTable table, remapTable(prepared.table, *quantized.graph));
  VITQ_RETURN_IF_ERROR(materializeQdq(*quantized.graph, table).status());
  VITQ_ASSIGN_OR_RETURN(nlohmann::json report, compareModels(in.reference, quantized, *in.eval,
                                                             judgedLayerValues(*in.reference.graph), {0, o.threads, {}}));
  report["model"] = o.model;
  report["recipe"] = {{"name", o.recipe}, {"weight_bits", o.wbits}, {"activation_bits", o.abits},
                      {"calibration_samples", prepared.report.calibration_samples}, {"reduce_range", o.reduce_range}};
  report["sensitivity"] = sensitivityJson(result, units, prepared.table);
  report["sensitivity"]["samples"] = evaluator.samples();
  report["sensitivity"]["evaluations"] = evaluator.evaluations();
  report["sensitivity"]["node_runs_reused"] = std::round(evaluator.reuseSaving() * 1000.0) / 1000.0;
  report["sensitivity"]["seconds"] =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  VITQ_RETURN_IF_ERROR(writeReport(report, o.report, {in.reference, quantized, *in.eval, o.threads, &in.original}));
  std::cout << "# vitq sensitivity: " << o.model << "\n\nrecipe " << o.recipe << ", W" << o.wbits << "A" << o.abits
            << ", " << units.size() << " layers, " << evaluator.evaluations() << " evaluations on "
            << evaluator.samples() << " samples in " << report["sensitivity"]["seconds"].get<double>() << " s ("
            << std::lround(evaluator.reuseSaving() * 100.0) << " % of node runs reused from earlier configurations)\n\n"
            << sensitivityMarkdown(report["sensitivity"], static_cast<size_t>(o.top));
  return Status::ok();
}

}  // namespace

void addSensitivityCommand(CLI::App& app, CommandAction& action) {
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("sensitivity", "Rank layers by how much quantizing them hurts the output");
  cmd->add_option("model", o->model, "Float ONNX model")->required();
  cmd->add_option("--data", o->data, "Samples: folder of .npy samples or images, one .npy batch, or an .npz")->required();
  cmd->add_option("--preprocess", o->preprocess,
                  "How images in --data become the input: a preset (ppocr-rec, ppocr-cls, ppocr-det, "
                  "fashion-mnist, imagenet) and/or key=value items (docs/cli.md)");
  cmd->add_option("--recipe", o->recipe, "Recipe whose quantizers are measured (default minmax)");
  cmd->add_option("--wbits", o->wbits, "Weight bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--abits", o->abits, "Activation bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_flag("--reduce-range", o->reduce_range, "7-bit weights (as vitq quantize --reduce-range)");
  cmd->add_option("--placement", o->placement, "integer (default) or inputs, as for vitq quantize")
      ->check(CLI::IsMember({"integer", "inputs"}));
  cmd->add_option("--smooth-quant", o->smooth_alpha, "SmoothQuant alpha, as for vitq quantize")
      ->check(CLI::Range(0.0, 1.0))->check(finiteNumber());
  cmd->add_option("--calib-samples", o->calib_samples, "Use only the first N samples for calibration")->check(wholeNumber(1));
  cmd->add_option("--eval-samples", o->eval_samples, "Samples each configuration is scored on (default: calibration's)")->check(wholeNumber(1));
  cmd->add_option("--holdout", o->holdout, "The last N samples score configurations; the rest calibrate")->check(wholeNumber(0));
  cmd->add_flag("--no-all-but", o->no_all_but, "Skip the all-but-this-layer runs (halves the time)");
  cmd->add_flag("--no-activations", o->no_activations, "Skip ranking the activation quantizers alone");
  cmd->add_option("--top", o->top, "Rows of the ranking printed (default 15)")->check(CLI::Range(1, 100000));
  cmd->add_option("--report", o->report, "Write the full report: .json, .md or .html");
  addThreadsOption(cmd, o->threads);
  cmd->callback([o, &action] {
    action = [o]() { return runSensitivity(*o); };
  });
}

}  // namespace vitq::cli
