#include "passes/ptq/recipes.h"

#include <utility>

#include "passes/ptq/quant_step.h"

namespace vitq {

const std::vector<std::string>& recipeNames() {
  static const std::vector<std::string> names = {"minmax", "mean-minmax", "percentile", "entropy", "mse", "repq-vit", "repquant", "q-hyvit", "i-vit"};
  return names;
}

std::string recipeSummary(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> summaries = {
      {"minmax", "observed min/max ranges; weights per channel, activations per tensor"},
      {"mean-minmax", "activation ranges from each sample's min/max averaged over the samples (NNCF's default)"},
      {"percentile", "activation ranges keeping --percentile of a histogram's mass"},
      {"entropy", "KL-divergence activation ranges (TensorRT, ONNX Runtime Entropy)"},
      {"mse", "ranges and weight clipping minimizing the squared quantization error"},
      {"repq-vit", "mse + post-LayerNorm scale reparameterization + log-sqrt2 post-Softmax quantizers"},
      {"repquant", "repq-vit + per-channel dual clipping of post-LayerNorm activations + learned rounding of every block (RepQuant)"},
      {"q-hyvit", "repq-vit + AdaRound reconstruction of the conv/transformer bridge blocks (+ per-channel depthwise Conv inputs with --placement inputs)"},
      {"i-vit", "symmetric activations; with --format integer: integer-only Shiftmax, ShiftGELU, I-LayerNorm"},
  };
  for (const auto& [n, text] : summaries) {
    if (n == name) return text;
  }
  return "";
}

const std::vector<std::pair<std::string, std::string>>& pipelinePasses() {
  static const std::vector<std::pair<std::string, std::string>> passes = [] {
    std::vector<std::pair<std::string, std::string>> list = {
        {"upgrade-opset", "models below opset 13 are converted (per-channel DequantizeLinear needs 13)"},
        {"fold-batchnorm", "BatchNormalization after Conv folded into the Conv's weight and bias"},
        {"name-nodes", "unnamed nodes get <OpType>_<n> names (--layer-bits, reports)"},
        {"budget-search", "--budget: per-layer precision chosen on a copy (running the steps below) by sensitivity and greedy search"},
    };
    for (const QuantStep* step : quantSteps()) list.emplace_back(step->name(), step->summary());
    list.emplace_back("integer-lowering", "--format integer: integer-only ops and dyadic requantizers (i-vit)");
    return list;
  }();
  return passes;
}

Status applyRecipe(const std::string& recipe, PipelineOptions& o) {
  // "+noisy" composes NoisyQuant with any base recipe.
  const std::string suffix = "+noisy";
  std::string name = recipe;
  if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
    o.noisy_bias = true;
  }
  if (name == "minmax") {
    o.activation_range = RangeMethod::kMinMax;
  } else if (name == "mean-minmax") {
    o.activation_range = RangeMethod::kMeanMinMax;
  } else if (name == "percentile") {
    o.activation_range = RangeMethod::kPercentile;
  } else if (name == "entropy") {
    // KL-divergence activation ranges (TensorRT, ONNX Runtime's Entropy calibrator); weights min/max.
    o.activation_range = RangeMethod::kEntropy;
  } else if (name == "mse") {
    o.activation_range = RangeMethod::kMse;
    o.weight_mse = true;
  } else if (name == "repq-vit") {
    // RepQ-ViT: MSE range search everywhere, per-channel post-LayerNorm quantizers folded to
    // per-tensor, log-sqrt2 post-Softmax quantizers, 8-bit model inputs.
    o.activation_range = RangeMethod::kMse;
    o.weight_mse = true;
    o.ln_reparam = true;
    o.log_softmax = true;
    o.inputs_8bit = true;
  } else if (name == "repquant") {
    // RepQuant (algorithms.md 2.5): repq-vit's quantizers, post-LayerNorm channel bounds chosen
    // against the readers' quantized outputs before the fold (dual_clipping.h), then learned
    // rounding of every block in order (its "quantized weight reconstruction"; BRECQ-style here).
    VITQ_RETURN_IF_ERROR(applyRecipe("repq-vit", o));
    o.dual_clip = true;
    o.reconstruct = Reconstruction::kSequential;
  } else if (name == "q-hyvit") {
    // Q-HyViT: the repq-vit parameters, its code's granularity rule (depthwise Conv inputs per
    // channel), then learned rounding of the bridge blocks' weights against their float outputs
    // (passes/ptq/block_reconstruction.h).
    VITQ_RETURN_IF_ERROR(applyRecipe("repq-vit", o));
    o.quant.depthwise_channel_inputs = true;
    o.reconstruct = Reconstruction::kBridges;
  } else if (name == "i-vit") {
    // I-ViT's quantizers: symmetric per-tensor activations (absmax / (2^(b-1) - 1)) from min/max
    // calibration, int8 per-channel weights. --format integer lowers the model to integer-only ops
    // (passes/lower/integer_lowering.h); --format qdq writes the same quantizers as QDQ.
    o.activation_range = RangeMethod::kMinMax;
    o.quant.activation_symmetric = true;
  } else {
    std::string list;
    for (const auto& n : recipeNames()) list += (list.empty() ? "" : ", ") + n;
    return invalidArgument("unknown --recipe '" + recipe + "' (available: " + list + ", each optionally with +noisy)");
  }
  return Status::ok();
}

}  // namespace vitq
