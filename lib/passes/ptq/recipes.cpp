#include "passes/ptq/recipes.h"

#include <utility>

#include "passes/ptq/pipeline_text.h"
#include "passes/ptq/quant_step.h"

namespace vitq {
namespace {

struct Recipe {
  const char* name;
  const char* summary;
  const char* pipeline;
};

// RepQ-ViT (repq-vit): MSE range search everywhere, per-channel post-LayerNorm quantizers folded to
// per-tensor, log-sqrt2 post-Softmax quantizers, 8-bit model inputs. RepQuant (algorithms.md 2.5):
// those quantizers, post-LayerNorm channel bounds chosen against the readers' quantized outputs
// before the fold (dual_clipping.h), then learned rounding of every block in order (its "quantized
// weight reconstruction"; BRECQ-style here). Q-HyViT: the repq-vit parameters, its code's
// granularity rule (depthwise Conv inputs per channel), then learned rounding of the bridge blocks'
// weights against their float outputs (block_reconstruction.h). I-ViT: symmetric per-tensor
// activations (absmax / (2^(b-1) - 1)) from min/max calibration, int8 per-channel weights;
// --format integer puts integer-lowering in materialize-qdq's place.
const std::vector<Recipe>& recipes() {
  static const std::vector<Recipe> list = {
      {"minmax", "observed min/max ranges; weights per channel, activations per tensor",
       "plan, calibrate{range=minmax}, materialize-qdq"},
      {"mean-minmax", "activation ranges from each sample's min/max averaged over the samples (NNCF's default)",
       "plan, calibrate{range=mean-minmax}, materialize-qdq"},
      {"percentile", "activation ranges keeping --percentile of a histogram's mass",
       "plan, calibrate{range=percentile, percentile=99.99}, materialize-qdq"},
      {"entropy", "KL-divergence activation ranges (TensorRT, ONNX Runtime Entropy)",
       "plan, calibrate{range=entropy}, materialize-qdq"},
      {"mse", "ranges and weight clipping minimizing the squared quantization error",
       "plan, calibrate{range=mse, weights=mse}, materialize-qdq"},
      {"repq-vit", "mse + post-LayerNorm scale reparameterization + log-sqrt2 post-Softmax quantizers",
       "ln-reparam, plan{inputs-8bit}, log-softmax, calibrate{range=mse, weights=mse}, materialize-qdq"},
      {"repquant",
       "repq-vit + per-channel dual clipping of post-LayerNorm activations + learned rounding of every block "
       "(RepQuant)",
       "ln-reparam{dual-clip}, plan{inputs-8bit}, log-softmax, calibrate{range=mse, weights=mse}, "
       "sequential-reconstruction, materialize-qdq"},
      {"q-hyvit",
       "repq-vit + AdaRound reconstruction of the conv/transformer bridge blocks (+ per-channel depthwise Conv "
       "inputs with --placement inputs)",
       "ln-reparam, plan{inputs-8bit, depthwise-inputs=per-channel}, log-softmax, calibrate{range=mse, weights=mse}, "
       "bridge-reconstruction, materialize-qdq"},
      {"i-vit", "symmetric activations; with --format integer: integer-only Shiftmax, ShiftGELU, I-LayerNorm",
       "plan{activations=symmetric}, calibrate{range=minmax}, materialize-qdq"},
  };
  return list;
}

const Recipe* recipeNamed(const std::string& name) {
  for (const Recipe& r : recipes()) {
    if (name == r.name) return &r;
  }
  return nullptr;
}

}  // namespace

const std::vector<std::string>& recipeNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> list;
    for (const Recipe& r : recipes()) list.push_back(r.name);
    return list;
  }();
  return names;
}

std::string recipeSummary(const std::string& name) {
  const Recipe* r = recipeNamed(name);
  return r ? r->summary : "";
}

StatusOr<std::string> recipePipeline(const std::string& recipe) {
  // "+noisy" composes NoisyQuant with any base recipe: noisy-bias runs just before the QDQ nodes.
  const std::string suffix = "+noisy";
  std::string name = recipe;
  const bool noisy = name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (noisy) name.resize(name.size() - suffix.size());
  const Recipe* r = recipeNamed(name);
  if (!r) {
    std::string list;
    for (const auto& n : recipeNames()) list += (list.empty() ? "" : ", ") + n;
    return invalidArgument("unknown --recipe '" + recipe + "' (available: " + list + ", each optionally with +noisy)");
  }
  std::string text = r->pipeline;
  if (noisy) text.insert(text.rfind("materialize-qdq"), "noisy-bias, ");
  return text;
}

const std::vector<std::pair<std::string, std::string>>& pipelinePasses() {
  static const std::vector<std::pair<std::string, std::string>> passes = [] {
    std::vector<std::pair<std::string, std::string>> list = {
        {"upgrade-opset", "models below opset 13 are converted (per-channel DequantizeLinear needs 13)"},
        {"fold-batchnorm", "BatchNormalization after Conv folded into the Conv's weight and bias"},
        {"name-nodes", "unnamed nodes get <OpType>_<n> names (--layer-bits, reports)"},
        {"budget-search", "--budget: per-layer precision chosen on a copy (running the steps below) by sensitivity and greedy search"},
    };
    for (const QuantStep* step : quantSteps()) {
      const std::string takes = stepOptionsSummary(step->name());
      list.emplace_back(step->name(), std::string(step->summary()) + (takes.empty() ? "" : " {" + takes + "}"));
    }
    return list;
  }();
  return passes;
}

Status applyRecipe(const std::string& name, PipelineOptions& o) {
  VITQ_ASSIGN_OR_RETURN(std::string text, recipePipeline(name));
  return applyPipelineText(text, o).withContext("recipe '" + name + "'");
}

void settleDepthwiseInputs(PipelineOptions& o) {
  if (o.quant.quantize_outputs) o.quant.depthwise_channel_inputs = false;
}

}  // namespace vitq
