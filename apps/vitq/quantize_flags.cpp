#include "vitq/quantize_flags.h"

#include <algorithm>

#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"
#include "passes/ptq/recipes.h"

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
  VITQ_RETURN_IF_ERROR(refuseUnread(o, {"--recon-iters", "--recon-samples", "--recon-batch", "--recon-lr", "--recon-drop",
                                        "--recon-holdout"},
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
    if (step->enabled(po) && name != "awq" && name != "plan" && name != "calibrate" && name != "gptq" &&
        name != "materialize-qdq") {
      return invalidArgument("weight-only quantization leaves the activations float; step '" + name +
                             "' works on activation quantizers (weight-only takes awq, plan, calibrate, gptq and "
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
  if (!o.requantize.empty() && po.quant.quantize_outputs) {
    return invalidArgument("--requantize adds output quantizers to --placement inputs; " + label +
                           " with the integer placement quantizes every layer's output already");
  }
  po.quant.requantized_outputs = o.requantize;
  if (!o.depthwise_inputs.empty()) po.quant.depthwise_channel_inputs = o.depthwise_inputs == "per-channel";
  // The report says what is in effect (a recipe's per-channel depthwise inputs need --placement inputs).
  if (o.depthwise_inputs.empty()) settleDepthwiseInputs(po);
  if (o.smooth_alpha >= 0) po.smooth_alpha = o.smooth_alpha;
  po.bias_correction = po.bias_correction || o.bias_correction;
  po.gptq = po.gptq || o.gptq;
  po.awq = po.awq || o.awq;
  if (o.weight_only) po.quant.weights_only = true;
  if (o.given.count("--group-size")) po.quant.weight_group_size = o.group_size;
  if (o.asymmetric_weights) po.quant.weight_asymmetric = true;
  if (o.embeddings) po.quant.embeddings = true;
  if (po.quant.embeddings && !po.quant.weights_only) {
    return invalidArgument("--embeddings (plan{embeddings}) adds Gather tables to weight-only quantization: add "
                           "--weight-only");
  }
  if (po.quant.weight_asymmetric && !po.quant.weights_only) {
    return invalidArgument("--asymmetric-weights (plan{asymmetric-weights}) is for weight-only quantization: add "
                           "--weight-only");
  }
  if (o.weight_format == "matmul-nbits") po.matmul_nbits = true;
  if (po.awq && !po.quant.weights_only) {
    return invalidArgument("--awq (step awq) searches weight scales for float activations: add --weight-only "
                           "(--smooth-quant is the method for quantized activations)");
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
  po.reconstruction.holdout = o.recon_holdout;
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
  if (o.given.count("--auto-budget")) {
    return invalidArgument("--auto-budget is the time --recipe auto spends trying candidates; " + recipeLabel(o) +
                           " tries none");
  }
  if (o.given.count("--target")) {
    return invalidArgument("--target weighs the runtime's speed in --recipe auto's choice; " + recipeLabel(o) +
                           " makes no choice (--placement integer is the placement ONNX Runtime fuses)");
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
  VITQ_RETURN_IF_ERROR(checkMatMulNBits(po));
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

}  // namespace vitq::cli
