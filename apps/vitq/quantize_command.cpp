// `vitq quantize MODEL --data DATA -o OUT.onnx [--recipe minmax|percentile] [--wbits N --abits N]
//  [--report R.json|R.md] [--fail-if METRIC<V ...]`: calibrate, quantize, export QDQ, report.
#include <filesystem>
#include <optional>
#include <iostream>
#include <limits>
#include <set>

#include "calib/dataset.h"
#include "calib/stats_file.h"
#include "onnx_io/model_fingerprint.h"
#include "core/logging.h"
#include "onnx_io/exporter.h"
#include "passes/canonicalize/raise_opset.h"
#include "passes/ptq/plan_quantization.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/recipes.h"
#include "report/accuracy_report.h"
#include "report/report_writer.h"
#include "vitq/commands.h"
#include "vitq/fidelity_guard.h"
#include "vitq/gates.h"
#include "vitq/integer_export.h"
#include "vitq/option_checks.h"
#include "vitq/paths.h"
#include "vitq/quantization_inputs.h"
#include "vitq/report_output.h"
#include "passes/mixed/mixed_precision_plan.h"

namespace vitq::cli {
namespace {

struct Options {
  std::string model, data, output, report, recipe = "minmax", stop_after;
  std::string format = "qdq";
  std::string ranges;  // i-vit: minmax (default) or mean-minmax
  int wbits = 8, abits = 8, threads = 1;
  double percentile = 99.99;
  size_t calib_samples = 0, eval_samples = 0;
  std::vector<std::string> exclude, fail_if;
  bool no_ln_reparam = false, no_log_softmax = false, median_scale = false, dual_clip = false, reduce_range = false,
       int4 = false, symmetric_activations = false, no_guard = false, float_boundary = false;
  std::string placement = "integer";
  std::string depthwise_inputs;  // per-tensor or per-channel; empty: the recipe's choice
  double smooth_alpha = -1;  // negative: no smoothing
  bool bias_correction = false;
  uint64_t noise_seed = 0;
  std::string noise_dist = "uniform";
  int noise_steps = 50;
  std::vector<std::string> noise_layers;
  int recon_iters = 400, recon_batch = 4;
  size_t recon_samples = 128;
  float recon_lr = 0.1f, recon_drop = 0.0f;
  bool recon_act_scales = false;
  std::string reconstruct;  // bridges, all or none; empty: the recipe's
  int recon_block_layers = 2;
  uint64_t seed = 0;
  std::string budget;
  std::vector<std::string> layer_bits;
  size_t holdout = 0;
  std::string labels;
  std::string stats;
  std::string preprocess;
  std::set<std::string> given;  // options set on the command line or in a config file
};

// Refuses options of \p flags that were given although the run never reads them: a CI recipe
// that sets --percentile for a minmax run, say, believes in a setting that does nothing.
Status refuseUnread(const Options& o, std::initializer_list<const char*> flags, bool read, const std::string& why) {
  if (read) return Status::ok();
  for (const char* flag : flags) {
    if (o.given.count(flag)) return invalidArgument(std::string(flag) + " " + why);
  }
  return Status::ok();
}

// Every tuning option that the chosen recipe and flags leave unread; \p po holds the final
// choices, \p recipe what the recipe alone sets.
Status checkOptionsAreRead(const Options& o, const PipelineOptions& po, const PipelineOptions& recipe) {
  const std::string name = "'" + o.recipe + "'";
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--percentile"}, recipe.activation_range == RangeMethod::kPercentile,
                                    "sets the range of --recipe percentile; recipe " + name + " does not read it"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--noise-seed", "--noise-dist", "--noise-steps", "--noise-layers"}, po.noisy_bias,
                                    "tunes NoisyQuant (a recipe ending in +noisy); recipe " + name + " adds no noise"));
  const bool reconstructs = po.reconstruct != Reconstruction::kNone;
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--recon-iters", "--recon-samples", "--recon-batch", "--recon-lr", "--recon-drop"},
                                    reconstructs,
                                    "tunes the reconstruction, and recipe " + name + " reconstructs nothing "
                                    "(--reconstruct bridges|all, or --recipe q-hyvit or repquant)"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--recon-block-layers"}, po.reconstruct == Reconstruction::kSequential,
                                    "sizes the blocks of --reconstruct all; recipe " + name + " does not use them"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--seed"}, reconstructs || po.dual_clip,
                                    "seeds the sample draws of reconstruction and dual clipping; recipe " + name +
                                        " draws none"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--no-ln-reparam"}, recipe.ln_reparam,
                                    "concerns RepQ-ViT's post-LayerNorm reparameterization; recipe " + name +
                                        " has none"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--median-scale"}, po.ln_reparam,
                                    "sets the reference scale of RepQ-ViT's post-LayerNorm reparameterization; "
                                    "recipe " + name + (recipe.ln_reparam ? " with --no-ln-reparam" : "") +
                                        " has none"));
  // The integer export lowers every layer with symmetric activations, 8-bit containers and its own
  // placement; the QDQ export's options would be ignored.
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--placement", "--smooth-quant", "--bias-correction", "--symmetric-activations",
                                        "--reduce-range", "--exclude"},
                                    o.format != "integer",
                                    "shapes the QDQ export; --format integer lowers every layer to integer "
                                    "arithmetic of its own and does not read it"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--float-boundary"}, o.format == "integer",
                                    "keeps ops without an integer form in float in the integer export; it needs "
                                    "--format integer"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--no-log-softmax"}, recipe.log_softmax,
                                    "removes RepQ-ViT's log-sqrt2 post-Softmax quantizer; recipe " + name + " has none"));
  return Status::ok();
}

// "NODE=BITS" from --layer-bits; the name may itself contain '='.
StatusOr<std::pair<std::string, int>> parseLayerBits(const std::string& text) {
  const size_t eq = text.rfind('=');
  const std::string why = "--layer-bits '" + text + "': expected NODE=BITS with BITS from 2 to 8";
  if (eq == std::string::npos || eq == 0) return invalidArgument(why);
  try {
    size_t used = 0;
    const int bits = std::stoi(text.substr(eq + 1), &used);
    if (used != text.size() - eq - 1 || bits < 2 || bits > 8) return invalidArgument(why);
    return std::make_pair(text.substr(0, eq), bits);
  } catch (const std::exception&) {
    return invalidArgument(why);
  }
}

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

Status runQuantize(const Options& o) {
  VITQ_RETURN_IF_ERROR(checkOutputs(
      {{"the input model", o.model}, {"--data", o.data}, {"--labels", o.labels}, {"--stats", o.stats}},
      {{"-o", o.output}, {"--report", o.report}}));
  PipelineOptions po;
  VITQ_RETURN_IF_ERROR(applyRecipe(o.recipe, po));
  const PipelineOptions recipe_defaults = po;
  // 7-bit weights keep ONNX Runtime's u8s8 kernels exact on x86 CPUs without VNNI (their int16
  // pair sums saturate with full-range int8 weights).
  po.quant.weight_bits = o.reduce_range ? std::min(o.wbits, 7) : o.wbits;
  po.quant.activation_bits = o.abits;
  po.quant.exclude = o.exclude;
  if (o.reduce_range) po.quant.max_weight_bits = 7;
  po.quant.quantize_outputs = o.placement == "integer";
  if (!o.depthwise_inputs.empty()) po.quant.depthwise_channel_inputs = o.depthwise_inputs == "per-channel";
  // A recipe's per-channel depthwise inputs (q-hyvit) apply with --placement inputs only: the
  // integer placement quantizes the depthwise outputs, so the report says what is in effect.
  if (o.depthwise_inputs.empty() && o.placement == "integer") po.quant.depthwise_channel_inputs = false;
  if (o.smooth_alpha >= 0) po.smooth_alpha = o.smooth_alpha;
  po.bias_correction = o.bias_correction;
  bool any_four_bit = o.wbits <= 4 || o.abits <= 4;
  for (const auto& text : o.layer_bits) {
    VITQ_ASSIGN_OR_RETURN(auto lb, parseLayerBits(text));
    po.quant.layer_bits.push_back(lb);
    any_four_bit = any_four_bit || lb.second <= 4;
  }
  po.four_bit_types = o.int4;
  if (o.symmetric_activations) po.quant.activation_symmetric = true;
  if (o.int4 && o.format == "integer") {
    return invalidArgument("--int4 chooses the QDQ export's storage types; --format integer writes its own");
  }
  if (o.int4 && !any_four_bit) {
    return invalidArgument("--int4 stores tensors of 4 bits or fewer in INT4/UINT4, and none has (--wbits " +
                           std::to_string(o.wbits) + " --abits " + std::to_string(o.abits) + ")");
  }
  po.percentile = o.percentile;
  po.threads = o.threads;
  po.ln_reparam = po.ln_reparam && !o.no_ln_reparam;
  if (o.symmetric_activations && po.ln_reparam) {
    return invalidArgument("--symmetric-activations: recipe '" + o.recipe + "' reparameterizes the post-LayerNorm "
                           "activations onto a grid with a zero point (RepQ-ViT's z~); add --no-ln-reparam");
  }
  po.log_softmax = po.log_softmax && !o.no_log_softmax;
  po.median_scale = o.median_scale;
  po.dual_clip = (po.dual_clip || o.dual_clip) && po.ln_reparam;
  if (o.dual_clip && !po.ln_reparam) {
    return invalidArgument("--dual-clip chooses the per-channel post-LayerNorm bounds of RepQ-ViT's reparameterization; "
                           "recipe '" + o.recipe + "'" + (o.no_ln_reparam ? " with --no-ln-reparam" : "") +
                           " has none (use repq-vit, repquant or q-hyvit)");
  }
  po.dual_clip_options.seed = o.seed;
  po.noisy.seed = o.noise_seed;
  po.noisy.gaussian = o.noise_dist == "gaussian";
  po.noisy.amplitude_steps = o.noise_steps;
  po.noisy.layers = o.noise_layers;
  po.reconstruction.iterations = o.recon_iters;
  po.reconstruction.samples = o.recon_samples;
  po.reconstruction.batch = o.recon_batch;
  po.reconstruction.learning_rate = o.recon_lr;
  po.reconstruction.seed = o.seed;
  po.reconstruction.drop_probability = o.recon_drop;
  po.reconstruction.learn_activation_scales = o.recon_act_scales;
  po.reconstruction_block_layers = o.recon_block_layers;
  if (o.reconstruct == "none") po.reconstruct = Reconstruction::kNone;
  if (o.reconstruct == "bridges") po.reconstruct = Reconstruction::kBridges;
  if (o.reconstruct == "all") po.reconstruct = Reconstruction::kSequential;
  if (o.recon_act_scales && po.reconstruct != Reconstruction::kSequential) {
    return invalidArgument("--recon-act-scales learns activation scales block by block with --reconstruct all; "
                           "recipe '" + o.recipe + "' reconstructs " +
                           (po.reconstruct == Reconstruction::kBridges ? "the bridge blocks only" : "nothing"));
  }
  if (!o.stop_after.empty() && o.stop_after != "reparam") {
    return invalidArgument("--stop-after '" + o.stop_after + "': the only stage is 'reparam'");
  }
  po.stop_after_reparam = !o.stop_after.empty();
  if (!o.ranges.empty() && o.recipe != "i-vit") {
    return invalidArgument("--ranges chooses the activation ranges of --recipe i-vit; recipe '" + o.recipe +
                           "' has its own (mean-minmax is also a recipe)");
  }
  if (o.ranges == "mean-minmax") po.activation_range = RangeMethod::kMeanMinMax;
  VITQ_RETURN_IF_ERROR(checkOptionsAreRead(o, po, recipe_defaults));
  VITQ_ASSIGN_OR_RETURN(std::vector<Gate> gates, parseGates(o.fail_if));
  VITQ_RETURN_IF_ERROR(checkGateMetrics(gates, !o.labels.empty()));
  if (o.depthwise_inputs == "per-channel" && (o.format == "integer" || o.placement == "integer")) {
    return invalidArgument("--depthwise-inputs per-channel needs --placement inputs in QDQ format: the integer "
                           "placement quantizes the depthwise Convs' outputs for ONNX Runtime's QLinearConv, which "
                           "takes one input scale, and --format integer gives every activation one scale");
  }
  if (!o.stats.empty() && po.quant.depthwise_channel_inputs && o.placement == "inputs") {
    return invalidArgument("--stats: saved statistics are per tensor; per-channel depthwise inputs (--recipe " +
                           o.recipe + ") calibrate on --data (or pass --depthwise-inputs per-tensor)");
  }
  if (o.format == "integer" && o.recipe != "i-vit") {
    return invalidArgument(po.noisy_bias
                               ? "--format integer: NoisyQuant (+noisy) is a pass of the QDQ export; the integer "
                                 "export takes --recipe i-vit alone"
                               : "--format integer is the I-ViT integer export: use it with --recipe i-vit (got '" +
                                     o.recipe + "')");
  }
  if (o.format == "integer" && !o.reconstruct.empty() && o.reconstruct != "none") {
    return invalidArgument("--reconstruct " + o.reconstruct + " learns weight rounding for QDQ models; --format "
                           "integer computes its own integer weights");
  }
  if (o.format == "integer" && (!o.budget.empty() || !o.layer_bits.empty())) {
    return invalidArgument("--budget and --layer-bits choose per-layer precision in QDQ models; --format integer "
                           "keeps one width for the whole integer graph");
  }
  if (!o.stats.empty()) {
    const QuantStep* step = firstStepReadingData(po);
    const std::string needs_data = step ? "the " + std::string(step->name()) + " step (recipe '" + o.recipe +
                                              "' and its flags)"
                                   : o.format == "integer" ? "--format integer"
                                                           : "";
    if (!needs_data.empty()) {
      return invalidArgument("--stats: " + needs_data + " reads the calibration data itself, which saved statistics "
                             "cannot replace; they serve minmax, mean-minmax, percentile, entropy and mse in QDQ "
                             "format without it");
    }
  }
  if (!o.report.empty()) VITQ_RETURN_IF_ERROR(checkReportPath(o.report));
  std::optional<Budget> budget;
  if (!o.budget.empty()) {
    VITQ_ASSIGN_OR_RETURN(budget, parseBudget(o.budget));
  }
  VITQ_ASSIGN_OR_RETURN(QuantizationInputs in,
                        loadQuantizationInputs(o.model, o.data, {o.calib_samples, o.eval_samples, o.holdout}, o.threads,
                                               o.preprocess));
  const Model& reference = in.reference;
  Model& quantized = in.working;
  const std::vector<const Graph*> graphs{in.original.graph.get(), in.working.graph.get()};
  VITQ_RETURN_IF_ERROR(checkNodePatterns(graphs, o.exclude, "--exclude"));
  VITQ_RETURN_IF_ERROR(checkNodePatterns(graphs, o.noise_layers, "--noise-layers"));
  for (const auto& [name, bits] : po.quant.layer_bits) {
    bool found = false;
    for (const auto& node : quantized.graph->nodes()) found = found || node->name() == name;
    if (!found) return invalidArgument("--layer-bits '" + name + "=" + std::to_string(bits) + "': no node is named '" + name + "'");
  }
  // --int4 raises the model to opset 21 at the end: refuse what cannot be raised before calibrating.
  if (o.int4) VITQ_RETURN_IF_ERROR(checkRaiseOpset(quantized, 21));
  CalibrationResult saved;
  if (!o.stats.empty()) {
    VITQ_ASSIGN_OR_RETURN(saved, loadSavedStats(o.stats, in.original, o.model));
    po.precomputed_stats = &saved;
    po.precomputed_source = o.stats;
  }
  CompareOptions compare{0, o.threads, {}};
  VITQ_ASSIGN_OR_RETURN(compare.labels, evalLabels(in, o.labels));  // checked before the long part
  if (o.format == "integer") {
    return runIntegerExport(reference, quantized, *in.calib, *in.eval,
                            {o.model, o.output, o.report, o.recipe, o.ranges == "mean-minmax", o.float_boundary, o.wbits,
                             o.abits, o.threads, compare.labels, !o.no_guard, gates});
  }
  std::optional<MixedPrecisionPlan> mixed;
  if (budget) {
    VITQ_ASSIGN_OR_RETURN(mixed, planMixedPrecision(reference, quantized, *in.calib, *in.eval, po, *budget));
    applyPlan(*mixed, po);
  }
  VITQ_ASSIGN_OR_RETURN(PipelineReport pr, quantizeModel(quantized, *in.calib, po));
  const QuantPlanSummary& plan = pr.plan;
  const MaterializeStats& ms = pr.materialized;
  if (o.int4 && ms.four_bit_tensors == 0) {
    logger("vitq.quantize")->warn("--int4: no tensor is stored in 4 bits (4-bit activations of layers with wider "
                                  "weights stay in 8-bit containers: ONNX Runtime would fuse them into "
                                  "QLinearConv/QLinearMatMul, which reject 4-bit inputs)");
  }
  for (const std::string& why : ms.float_biases) logger("vitq.quantize")->warn("{}", why);
  quantized.producer_name = "vitq";

  const std::vector<std::string> layer_values = judgedLayerValues(*reference.graph);
  VITQ_ASSIGN_OR_RETURN(nlohmann::json report, compareModels(reference, quantized, *in.eval, layer_values, compare));
  report["model"] = o.model;
  report["output_model"] = o.output;
  report["recipe"] = {{"name", o.recipe}, {"weight_bits", o.wbits}, {"activation_bits", o.abits},
                      {"calibration_samples", pr.calibration_samples}, {"pipeline", pr.pipeline}};
  if (o.recipe == "percentile") report["recipe"]["percentile"] = o.percentile;
  if (o.recipe == "i-vit") report["recipe"]["ranges"] = o.ranges.empty() ? "minmax" : o.ranges;
  if (!o.stats.empty()) report["recipe"]["statistics"] = o.stats;
  if (po.ln_reparam) {
    nlohmann::json ln = {{"reference_scale", po.median_scale ? "median" : "mean"}};
    if (po.dual_clip) {
      nlohmann::json sites = nlohmann::json::array();
      for (const auto& d : pr.dual_clipped) {
        sites.push_back({{"activation", d.activation}, {"loss_before", d.loss_before}, {"loss_after", d.loss_after},
                         {"clipped_channels", d.clipped_channels}});
      }
      ln["dual_clip"] = sites;
    }
    report["recipe"]["ln_reparam"] = ln;
  }
  report["recipe"]["log_softmax"] = po.log_softmax;
  report["recipe"]["reduce_range"] = o.reduce_range;
  report["recipe"]["int4"] = o.int4;
  report["recipe"]["activations"] = po.quant.activation_symmetric ? "symmetric" : "asymmetric";
  report["recipe"]["placement"] = o.placement;
  report["recipe"]["depthwise_inputs"] = po.quant.depthwise_channel_inputs ? "per-channel" : "per-tensor";
  if (po.bias_correction) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& b : pr.bias_corrected) {
      layers.push_back({{"layer", b.layer}, {"max_shift", b.max_shift}, {"mean_shift", b.mean_shift}});
    }
    report["recipe"]["bias_correction"] = layers;
  }
  if (po.smooth_alpha) {
    nlohmann::json smoothed = nlohmann::json::array();
    for (const auto& s : pr.smoothed) {
      smoothed.push_back({{"activation", s.input}, {"consumers", s.consumers}, {"min_scale", s.min_scale},
                          {"max_scale", s.max_scale}});
    }
    report["recipe"]["smooth_quant"] = {{"alpha", *po.smooth_alpha}, {"smoothed", smoothed}};
  }
  if (po.noisy_bias) {
    report["recipe"]["noisy_bias"] = {{"seed", o.noise_seed}, {"distribution", o.noise_dist},
                                      {"amplitude_steps", o.noise_steps}, {"layers", o.noise_layers}};
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& site : pr.noisy_bias) {
      sites.push_back({{"activation", site.activation}, {"consumers", site.consumers},
                       {"amplitude", site.amplitude}, {"shift", site.shift}, {"sqnr_before_db", site.sqnr_before_db},
                       {"sqnr_after_db", site.sqnr_after_db}});
    }
    report["noisy_bias"] = sites;
  }
  if (po.reconstruct != Reconstruction::kNone) {
    const char* scope = po.reconstruct == Reconstruction::kBridges ? "bridges" : "all";
    report["recipe"]["reconstruction"] = {{"scope", scope}, {"iterations", o.recon_iters},
                                          {"samples", std::min(o.recon_samples, in.calib->size())},
                                          {"batch", o.recon_batch}, {"learning_rate", o.recon_lr}, {"seed", o.seed},
                                          {"block_layers", o.recon_block_layers}, {"drop", o.recon_drop},
                                          {"activation_scales", o.recon_act_scales}};
    nlohmann::json blocks = nlohmann::json::array();
    for (const auto& b : pr.reconstructed) {
      blocks.push_back({{"block", b.name}, {"output", b.output}, {"weights", b.weights}, {"elements", b.elements},
                        {"codes_changed", b.flipped}, {"loss_before", b.loss_before}, {"loss_after", b.loss_after},
                        {"kept_nearest", b.kept_nearest}, {"activation_scales", b.activation_scales.size()},
                        {"seconds", b.seconds}});
    }
    report["reconstruction"] = blocks;
  }
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
  report["quantization"] = {{"compute_nodes", plan.compute_nodes}, {"quantized_nodes", plan.quantized_nodes},
                            {"kept_float", plan.excluded}, {"quantize_nodes", ms.quantize_nodes},
                            {"per_channel_activations", ms.per_channel_activations},
                            {"weights", ms.weights}, {"biases", ms.biases},
                            {"four_bit_tensors", ms.four_bit_tensors},
                            {"reparameterized_layernorms", pr.reparameterized},
                            {"layernorms_too_few_rows", pr.reparam_few_rows},
                            {"log_softmax_quantizers", ms.log_quantizers}, {"float_biases", ms.float_biases}};
  report["guard"] = o.no_guard ? "off" : "on";
  VITQ_RETURN_IF_ERROR(writeReport(report, o.report, {reference, quantized, *in.eval, o.threads, &in.original}));
  VITQ_RETURN_IF_ERROR(saveModelAfterReport(quantized, o.output, o.report));
  std::cout << "# vitq quantize: " << o.model << " -> " << o.output << "\n\n"
            << "recipe " << o.recipe << ", W" << o.wbits << "A" << o.abits << ", " << plan.quantized_nodes << " of "
            << plan.compute_nodes << " compute nodes quantized, " << pr.calibration_samples << " calibration samples\n\n"
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
  auto o = std::make_shared<Options>();
  auto* cmd = app.add_subcommand("quantize", "Calibrate and quantize a model; write QDQ ONNX and an accuracy report");
  cmd->add_option("model", o->model, "Float ONNX model")->required();
  cmd->add_option("--data", o->data, "Calibration data: folder of .npy samples or images, one .npy batch, or an .npz")
      ->required();
  cmd->add_option("--preprocess", o->preprocess,
                  "How images in --data become the input: a preset (ppocr-rec, ppocr-cls, ppocr-det, "
                  "fashion-mnist, imagenet) and/or key=value items (docs/cli.md)");
  cmd->add_option("-o,--output", o->output, "Quantized ONNX model to write")->required();
  cmd->add_option("--recipe", o->recipe, "minmax (default), mean-minmax, percentile, entropy, mse, repq-vit, repquant, q-hyvit or i-vit (docs/recipes.md)");
  cmd->add_option("--format", o->format, "qdq (default) or integer: integer-only ONNX (--recipe i-vit, docs/recipes.md)")
      ->check(CLI::IsMember({"qdq", "integer"}));
  cmd->add_option("--ranges", o->ranges,
                  "i-vit: activation ranges from the calibration samples: minmax (the observed extremes, I-ViT's; "
                  "default) or mean-minmax (each sample's extremes averaged over the samples)")
      ->check(CLI::IsMember({"minmax", "mean-minmax"}));
  cmd->add_flag("--float-boundary", o->float_boundary,
                "--format integer: ops without an integer form (ConvTranspose, Resize, a lone Sigmoid, ...) run in "
                "float between a dequantizer and a quantizer, listed in the report, instead of failing the export");
  cmd->add_flag("--no-ln-reparam", o->no_ln_reparam, "repq-vit without the post-LayerNorm reparameterization");
  cmd->add_flag("--no-log-softmax", o->no_log_softmax, "repq-vit without the log-sqrt2 post-Softmax quantizer");
  cmd->add_flag("--median-scale", o->median_scale, "Post-LayerNorm reference scale: median of the channels (DopQ-ViT)");
  cmd->add_flag("--dual-clip", o->dual_clip,
                "Post-LayerNorm per-channel bounds chosen by the next layers' quantized output error before the "
                "fold (RepQuant's dual clipping; on with --recipe repquant)");
  cmd->add_option("--noise-seed", o->noise_seed, "+noisy: seed of the noise vectors (default 0)")->check(wholeNumber(0));
  cmd->add_option("--noise-dist", o->noise_dist, "+noisy: uniform (the paper, default) or gaussian (the official code)")
      ->check(CLI::IsMember({"uniform", "gaussian"}));
  cmd->add_option("--noise-steps", o->noise_steps, "+noisy: amplitude grid size over [0, 2) x N0 (default 50)")
      ->check(CLI::Range(2, 10000));
  cmd->add_option("--noise-layers", o->noise_layers, "+noisy: only inputs of these layers (op type or name glob)")->allow_extra_args(false);
  cmd->add_option("--reconstruct", o->reconstruct,
                  "Learned rounding of the weights against the float model's block outputs: bridges (the "
                  "conv/transformer bridge blocks, float inputs; q-hyvit's default), all (every block in order, "
                  "fed by the quantized blocks before it: BRECQ) or none (the other recipes' default)")
      ->check(CLI::IsMember({"bridges", "all", "none"}));
  cmd->add_option("--recon-block-layers", o->recon_block_layers,
                  "--reconstruct all: quantized layers per block, at least (blocks end where one tensor carries "
                  "everything on; default 2)")
      ->check(CLI::Range(1, 1000));
  cmd->add_option("--recon-drop", o->recon_drop,
                  "Reconstruction: probability that an activation element skips its quantizer during the "
                  "optimization (QDrop; default 0)")
      ->check(CLI::Range(0.0, 1.0))->check(finiteNumber());
  cmd->add_flag("--recon-act-scales", o->recon_act_scales,
                "--reconstruct all: learn the scales of the activations each block produces with its rounding "
                "(LSQ step sizes, QDrop's joint optimization)");
  cmd->add_option("--recon-iters", o->recon_iters, "Reconstruction: Adam steps per block (default 400)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--recon-samples", o->recon_samples, "Reconstruction: calibration samples cached per block (default 128)")
      ->check(CLI::Range(1, 1000000));
  cmd->add_option("--recon-batch", o->recon_batch, "Reconstruction: samples per step (default 4)")->check(CLI::Range(1, 4096));
  cmd->add_option("--recon-lr", o->recon_lr, "Reconstruction: Adam learning rate on the rounding variables (default 0.1)")
      ->check(finiteNumber())->check(CLI::PositiveNumber);
  cmd->add_option("--seed", o->seed, "Reconstruction: seed of the sample draws (default 0)")->check(wholeNumber(0));
  cmd->add_flag("--reduce-range", o->reduce_range,
               "7-bit weights (int8 container): exact in ONNX Runtime on x86 CPUs without VNNI");
  cmd->add_flag("--symmetric-activations", o->symmetric_activations,
               "Activations on a symmetric int8 grid (zero point 0, as TensorRT wants) instead of asymmetric uint8");
  cmd->add_flag("--int4", o->int4,
               "Weights and activations of 4 bits or fewer stored as ONNX INT4/UINT4 (opset 21, IR 10) "
               "instead of clipped 8-bit containers");
  cmd->add_option("--smooth-quant", o->smooth_alpha,
                  "SmoothQuant before calibration with this migration strength alpha (0 to 1; 0.5 in the paper, "
                  "NNCF 0.95): outlier channels of linear layers' inputs move into their weights")
      ->check(CLI::Range(0.0, 1.0))->check(finiteNumber());
  cmd->add_flag("--bias-correction", o->bias_correction,
                "After calibration, each quantized layer's mean output shift per channel (float against quantized "
                "input and weights, on the calibration data) is added to its bias");
  cmd->add_option("--placement", o->placement,
                  "integer: quantize compute layers' inputs and outputs, so that ONNX Runtime runs them with integer "
                  "kernels (default); inputs: their inputs only, one rounding per layer, layers run in float")
      ->check(CLI::IsMember({"integer", "inputs"}));
  cmd->add_option("--depthwise-inputs", o->depthwise_inputs,
                  "per-tensor or per-channel scales for the inputs of depthwise Convs, with --placement inputs "
                  "(default: per-channel with --recipe q-hyvit, else per-tensor); per-channel ones fold into the "
                  "weight scales, but ONNX Runtime then runs those Convs in float")
      ->check(CLI::IsMember({"per-tensor", "per-channel"}));
  cmd->add_option("--stop-after", o->stop_after, "reparam: write the float model after the reparameterization");
  cmd->add_option("--percentile", o->percentile, "Percentile of the range kept by --recipe percentile")
      ->check(CLI::Range(90.0, 100.0))->check(finiteNumber());
  cmd->add_option("--wbits", o->wbits, "Weight bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--abits", o->abits, "Activation bits (2 to 8)")->check(CLI::Range(2, 8));
  cmd->add_option("--calib-samples", o->calib_samples, "Use only the first N samples for calibration")->check(wholeNumber(1));
  cmd->add_option("--eval-samples", o->eval_samples, "Samples for the report (default: the calibration samples)")->check(wholeNumber(1));
  cmd->add_option("--exclude", o->exclude, "Keep nodes in float: a node-name glob or an op type (repeatable)")->allow_extra_args(false);
  cmd->add_option("--budget", o->budget,
                  "Mixed precision until the budget holds on the evaluation samples: top1_drop<=POINTS, "
                  "sqnr_db>=DB or cosine>=VALUE (docs/recipes.md)");
  cmd->add_option("--layer-bits", o->layer_bits, "At least BITS for one layer: NODE=BITS (repeatable)")->allow_extra_args(false);
  cmd->add_option("--holdout", o->holdout,
                  "The last N samples are for evaluation (report, --budget) only, never calibration")->check(wholeNumber(0));
  cmd->add_option("--labels", o->labels,
                  "Class of each sample (.npy of integers, DATA's order): the report adds top-1 accuracy and top1_drop");
  cmd->add_option("--stats", o->stats,
                  "Activation statistics saved by vitq calibrate (and merge-stats) instead of calibrating on --data; "
                  "--data then feeds only the report");
  cmd->add_option("--report", o->report, "Write the report: .json, .md or .html");
  cmd->add_flag("--no-guard", o->no_guard,
                "Exit 0 even when the written model is clearly broken against the float model (output cosine below "
                "0.9, or top-1 agreement below 50 % with cosine below 0.99: exit 3 by default)");
  cmd->add_option("--fail-if", o->fail_if, "Exit 3 when a gate holds, e.g. sqnr_min_db<15 (repeatable)")->allow_extra_args(false);
  cmd->add_option("--threads", o->threads, "Threads")->check(CLI::Range(1, 256));
  cmd->callback([o, cmd, &action] {
    for (const CLI::Option* opt : cmd->get_options()) {
      if (opt->count() > 0) o->given.insert(opt->get_name());
    }
    action = [o]() { return runQuantize(*o); };
  });
}

}  // namespace vitq::cli
