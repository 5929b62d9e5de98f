#include "vitq/quantize_flags.h"

#include <algorithm>

#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/recipes.h"
#include "vitq/option_checks.h"

namespace vitq::cli {
namespace {

// Refuses options of \p flags that were given although the run never reads them: a CI recipe
// that sets --percentile for a minmax run, say, believes in a setting that does nothing.
Status refuseUnread(const QuantizeFlags& o, std::initializer_list<const char*> flags, bool read, const std::string& why) {
  if (read) return Status::ok();
  for (const char* flag : flags) {
    if (o.given.count(flag)) return invalidArgument(std::string(flag) + " " + why);
  }
  return Status::ok();
}

// Every tuning option that the chosen recipe and flags leave unread; \p po holds the final
// choices, \p recipe what the recipe alone sets.
Status checkOptionsAreRead(const QuantizeFlags& o, const PipelineOptions& po, const PipelineOptions& recipe) {
  const std::string label = recipeLabel(o);
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--percentile"}, recipe.activation_range == RangeMethod::kPercentile,
                                    "sets the range of --recipe percentile; " + label + " does not read it"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--noise-seed", "--noise-dist", "--noise-steps", "--noise-layers"}, po.noisy_bias,
                                    "tunes NoisyQuant (a recipe ending in +noisy); " + label + " adds no noise"));
  const bool reconstructs = po.reconstruct != Reconstruction::kNone;
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--recon-iters", "--recon-samples", "--recon-batch", "--recon-lr", "--recon-drop"},
                                    reconstructs,
                                    "tunes the reconstruction, and " + label + " reconstructs nothing "
                                    "(--reconstruct bridges|all, or --recipe q-hyvit or repquant)"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--recon-block-layers"}, po.reconstruct == Reconstruction::kSequential,
                                    "sizes the blocks of --reconstruct all; " + label + " does not use them"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--seed"}, reconstructs || po.dual_clip,
                                    "seeds the sample draws of reconstruction and dual clipping; " + label + " draws none"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--no-ln-reparam"}, recipe.ln_reparam,
                                    "concerns RepQ-ViT's post-LayerNorm reparameterization; " + label + " has none"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--median-scale"}, po.ln_reparam,
                                    "sets the reference scale of RepQ-ViT's post-LayerNorm reparameterization; " +
                                        label + (recipe.ln_reparam ? " with --no-ln-reparam" : "") +
                                        " has none"));
  // The integer export lowers every layer with symmetric activations, 8-bit containers and its own
  // placement; the QDQ export's options would be ignored.
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--placement", "--smooth-quant", "--bias-correction", "--symmetric-activations",
                                        "--reduce-range", "--exclude"},
                                    !po.integer_lowering,
                                    "shapes the QDQ export; --format integer lowers every layer to integer "
                                    "arithmetic of its own and does not read it"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--float-boundary"}, po.integer_lowering,
                                    "keeps ops without an integer form in float in the integer export; it needs "
                                    "--format integer"));
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--no-log-softmax"}, recipe.log_softmax,
                                    "removes RepQ-ViT's log-sqrt2 post-Softmax quantizer; " + label + " has none"));
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
}  // namespace

std::string recipeName(const QuantizeFlags& o) { return o.pipeline.empty() ? o.recipe : "custom"; }

std::string recipeLabel(const QuantizeFlags& o) {
  return o.pipeline.empty() ? "recipe '" + o.recipe + "'" : std::string("the --pipeline");
}

namespace {

// The steps or ranges an integer export cannot carry: integer-lowering computes its own weights
// and scales from the calibrated min/max ranges of the float model.
Status checkIntegerPipeline(const PipelineOptions& po) {
  if (!po.integer_lowering) return Status::ok();
  for (const QuantStep* step : quantSteps()) {
    const std::string name = step->name();
    if (step->enabled(po) && name != "plan" && name != "calibrate" && name != "integer-lowering") {
      return invalidArgument("integer-lowering runs after plan and calibrate alone: step '" + name +
                             "' changes the QDQ model, which the integer export does not write");
    }
  }
  if (po.activation_range != RangeMethod::kMinMax && po.activation_range != RangeMethod::kMeanMinMax) {
    return invalidArgument("integer-lowering reads min/max ranges: calibrate{range=minmax} or calibrate{range=mean-minmax}");
  }
  return Status::ok();
}

// Weight-only quantization leaves every activation float: the steps that place, move or learn
// activation quantizers have nothing to work on.
Status checkWeightOnlyPipeline(const PipelineOptions& po, const QuantizeFlags& o) {
  if (!po.quant.weights_only) return Status::ok();
  for (const QuantStep* step : quantSteps()) {
    const std::string name = step->name();
    if (step->enabled(po) && name != "plan" && name != "calibrate" && name != "gptq" && name != "materialize-qdq") {
      return invalidArgument("weight-only quantization leaves the activations float; step '" + name +
                             "' works on activation quantizers (weight-only takes plan, calibrate, gptq and "
                             "materialize-qdq)");
    }
  }
  if (!o.budget.empty() || !o.layer_bits.empty()) {
    return invalidArgument("--budget and --layer-bits choose per-layer precision of weights and activations; "
                           "--weight-only keeps one weight width");
  }
  if (!o.stats.empty()) return invalidArgument("--stats: weight-only quantization observes no activations");
  return Status::ok();
}

// The steps and options of --recipe or --pipeline, with --format integer's step in place.
StatusOr<PipelineOptions> recipeOptions(const QuantizeFlags& o) {
  PipelineOptions po;
  if (o.pipeline.empty()) {
    VITQ_RETURN_IF_ERROR(applyRecipe(o.recipe, po));
  } else {
    if (o.given.count("--recipe")) return invalidArgument("--pipeline names the steps itself: give it or --recipe, not both");
    VITQ_RETURN_IF_ERROR(applyPipelineText(o.pipeline, po).withContext("--pipeline '" + o.pipeline + "'"));
  }
  if (o.format == "integer") integerLoweringStep().enable(po);
  return po;
}

}  // namespace

StatusOr<PipelineOptions> pipelineOptionsFromFlags(const QuantizeFlags& o) {
  VITQ_ASSIGN_OR_RETURN(PipelineOptions po, recipeOptions(o));
  const PipelineOptions recipe_defaults = po;
  const std::string label = recipeLabel(o);
  // 7-bit weights keep ONNX Runtime's u8s8 kernels exact on x86 CPUs without VNNI (their int16
  // pair sums saturate with full-range int8 weights).
  po.quant.weight_bits = o.reduce_range ? std::min(o.wbits, 7) : o.wbits;
  po.quant.activation_bits = o.abits;
  po.quant.exclude = o.exclude;
  if (o.reduce_range) po.quant.max_weight_bits = 7;
  if (o.given.count("--placement")) po.quant.quantize_outputs = o.placement == "integer";
  if (!o.depthwise_inputs.empty()) po.quant.depthwise_channel_inputs = o.depthwise_inputs == "per-channel";
  // A recipe's per-channel depthwise inputs (q-hyvit) apply with --placement inputs only: the
  // integer placement quantizes the depthwise outputs, so the report says what is in effect.
  if (o.depthwise_inputs.empty() && po.quant.quantize_outputs) po.quant.depthwise_channel_inputs = false;
  if (o.smooth_alpha >= 0) po.smooth_alpha = o.smooth_alpha;
  po.bias_correction = po.bias_correction || o.bias_correction;
  po.gptq = po.gptq || o.gptq;
  if (o.weight_only) po.quant.weights_only = true;
  if (o.given.count("--group-size")) po.quant.weight_group_size = o.group_size;
  if (o.asymmetric_weights) po.quant.weight_asymmetric = true;
  if (po.quant.weight_asymmetric && !po.quant.weights_only) {
    return invalidArgument("--asymmetric-weights (plan{asymmetric-weights}) is for weight-only quantization: add "
                           "--weight-only");
  }
  if (po.quant.weight_group_size > 0 && !po.quant.weights_only) {
    return invalidArgument("--group-size (plan{group-size}) sets the weight groups of weight-only quantization: add "
                           "--weight-only");
  }
  // Weight-only models exist to be small: 4-bit weights are stored as INT4.
  if (po.quant.weights_only && o.wbits <= 4) po.four_bit_types = true;
  bool any_four_bit = o.wbits <= 4 || o.abits <= 4;
  for (const auto& text : o.layer_bits) {
    VITQ_ASSIGN_OR_RETURN(auto lb, parseLayerBits(text));
    po.quant.layer_bits.push_back(lb);
    any_four_bit = any_four_bit || lb.second <= 4;
  }
  po.four_bit_types = po.four_bit_types || o.int4;
  if (o.symmetric_activations) po.quant.activation_symmetric = true;
  if (o.int4 && po.integer_lowering) {
    return invalidArgument("--int4 chooses the QDQ export's storage types; --format integer writes its own");
  }
  if (po.four_bit_types && !any_four_bit) {
    return invalidArgument("--int4 stores tensors of 4 bits or fewer in INT4/UINT4, and none has (--wbits " +
                           std::to_string(o.wbits) + " --abits " + std::to_string(o.abits) + ")");
  }
  if (o.given.count("--percentile")) po.percentile = o.percentile;
  po.threads = o.threads;
  po.ln_reparam = po.ln_reparam && !o.no_ln_reparam;
  if (o.symmetric_activations && po.ln_reparam) {
    return invalidArgument("--symmetric-activations: " + label + " reparameterizes the post-LayerNorm "
                           "activations onto a grid with a zero point (RepQ-ViT's z~); add --no-ln-reparam");
  }
  po.log_softmax = po.log_softmax && !o.no_log_softmax;
  po.median_scale = po.median_scale || o.median_scale;
  po.dual_clip = (po.dual_clip || o.dual_clip) && po.ln_reparam;
  if (o.dual_clip && !po.ln_reparam) {
    return invalidArgument("--dual-clip chooses the per-channel post-LayerNorm bounds of RepQ-ViT's reparameterization; " +
                           label + (o.no_ln_reparam ? " with --no-ln-reparam" : "") +
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
  if (o.given.count("--recon-block-layers")) po.reconstruction_block_layers = o.recon_block_layers;
  if (o.reconstruct == "none") po.reconstruct = Reconstruction::kNone;
  if (o.reconstruct == "bridges") po.reconstruct = Reconstruction::kBridges;
  if (o.reconstruct == "all") po.reconstruct = Reconstruction::kSequential;
  if (o.recon_act_scales && po.reconstruct != Reconstruction::kSequential) {
    return invalidArgument("--recon-act-scales learns activation scales block by block with --reconstruct all; " +
                           label + " reconstructs " +
                           (po.reconstruct == Reconstruction::kBridges ? "the bridge blocks only" : "nothing"));
  }
  if (!o.stop_after.empty() && o.stop_after != "reparam") {
    return invalidArgument("--stop-after '" + o.stop_after + "': the only stage is 'reparam'");
  }
  po.stop_after_reparam = !o.stop_after.empty();
  if (po.stop_after_reparam && po.integer_lowering) {
    return invalidArgument("--stop-after reparam writes the float model after the reparameterization; --format "
                           "integer has none to stop after");
  }
  if (!o.ranges.empty() && (o.recipe != "i-vit" || !o.pipeline.empty())) {
    return invalidArgument(o.pipeline.empty() ? "--ranges chooses the activation ranges of --recipe i-vit; recipe '" +
                                                    o.recipe + "' has its own (mean-minmax is also a recipe)"
                                              : std::string("--ranges chooses the activation ranges of --recipe i-vit; "
                                                            "in a --pipeline, calibrate{range=...} does"));
  }
  if (o.ranges == "mean-minmax") po.activation_range = RangeMethod::kMeanMinMax;
  po.float_boundary = po.float_boundary || o.float_boundary;
  VITQ_RETURN_IF_ERROR(checkOptionsAreRead(o, po, recipe_defaults));
  if (o.depthwise_inputs == "per-channel" && (po.integer_lowering || po.quant.quantize_outputs)) {
    return invalidArgument("--depthwise-inputs per-channel needs --placement inputs in QDQ format: the integer "
                           "placement quantizes the depthwise Convs' outputs for ONNX Runtime's QLinearConv, which "
                           "takes one input scale, and --format integer gives every activation one scale");
  }
  if (!o.stats.empty() && po.quant.depthwise_channel_inputs && !po.quant.quantize_outputs) {
    return invalidArgument("--stats: saved statistics are per tensor; per-channel depthwise inputs (" + label +
                           ") calibrate on --data (or pass --depthwise-inputs per-tensor)");
  }
  if (po.integer_lowering && o.pipeline.empty() && o.recipe != "i-vit") {
    return invalidArgument(po.noisy_bias
                               ? "--format integer: NoisyQuant (+noisy) is a pass of the QDQ export; the integer "
                                 "export takes --recipe i-vit alone"
                               : "--format integer is the I-ViT integer export: use it with --recipe i-vit (got '" +
                                     o.recipe + "')");
  }
  if (po.integer_lowering && !o.reconstruct.empty() && o.reconstruct != "none") {
    return invalidArgument("--reconstruct " + o.reconstruct + " learns weight rounding for QDQ models; --format "
                           "integer computes its own integer weights");
  }
  if (po.integer_lowering && (!o.budget.empty() || !o.layer_bits.empty())) {
    return invalidArgument("--budget and --layer-bits choose per-layer precision in QDQ models; --format integer "
                           "keeps one width for the whole integer graph");
  }
  VITQ_RETURN_IF_ERROR(checkIntegerPipeline(po));
  VITQ_RETURN_IF_ERROR(checkWeightOnlyPipeline(po, o));
  if (!o.stats.empty()) {
    const QuantStep* step = firstStepReadingData(po);
    const std::string needs_data = step ? "the " + std::string(step->name()) + " step (" + label + " and its flags)"
                                   : po.integer_lowering ? "--format integer"
                                                         : "";
    if (!needs_data.empty()) {
      return invalidArgument("--stats: " + needs_data + " reads the calibration data itself, which saved statistics "
                             "cannot replace; they serve minmax, mean-minmax, percentile, entropy and mse in QDQ "
                             "format without it");
    }
  }
  return po;
}

void addQuantizeFlags(CLI::App& app, QuantizeFlags& flags) {
  CLI::App* cmd = &app;
  QuantizeFlags* o = &flags;
  cmd->add_option("model", o->model, "Float ONNX model")->required();
  cmd->add_option("--data", o->data, "Calibration data: folder of .npy samples or images, one .npy batch, or an .npz")
      ->required();
  cmd->add_option("--preprocess", o->preprocess,
                  "How images in --data become the input: a preset (ppocr-rec, ppocr-cls, ppocr-det, "
                  "fashion-mnist, imagenet) and/or key=value items (docs/cli.md)");
  cmd->add_option("-o,--output", o->output, "Quantized ONNX model to write")->required();
  cmd->add_option("--pipeline", o->pipeline,
                  "The steps to run with their options instead of --recipe, as vitq passes lists them and reports "
                  "record them, e.g. \"ln-reparam, plan{inputs-8bit}, calibrate{range=mse}, materialize-qdq\" "
                  "(docs/cli.md)");
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
  cmd->add_flag("--gptq", o->gptq,
                "After calibration, MatMul/Gemm weights rounded column by column on their calibrated grid, each "
                "column's error compensated in the columns not yet rounded through the inputs' Hessian (GPTQ); "
                "options in a --pipeline: gptq{damp=0.01, block-size=128, samples=128, act-order}");
  cmd->add_flag("--weight-only", o->weight_only,
                "Quantize only the MatMul/Gemm weights (activations and biases stay float), per output channel or "
                "with --group-size; weights of 4 bits or fewer stored as INT4 (opset 21). With --recipe minmax: "
                "round to nearest (RTN); add --gptq for GPTQ rounding");
  cmd->add_flag("--asymmetric-weights", o->asymmetric_weights,
                "--weight-only: unsigned weight codes with a zero point per scale (uint4 [0, 15]: all 16 levels) "
                "instead of symmetric int4 [-7, 7]");
  cmd->add_option("--group-size", o->group_size,
                  "--weight-only: one scale per block of N weights along the input dimension (e.g. 32, 128), "
                  "exported as DequantizeLinear with block_size (opset 21); 0: per output channel (default)")
      ->check(CLI::Range(0, 1 << 20));
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
}

}  // namespace vitq::cli
