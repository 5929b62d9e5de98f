#include "passes/ptq/recipes.h"

namespace vitq {

const std::vector<std::string>& recipeNames() {
  static const std::vector<std::string> names = {"minmax", "percentile", "mse", "repq-vit"};
  return names;
}

Status applyRecipe(const std::string& name, PipelineOptions& o) {
  if (name == "minmax") {
    o.activation_range = RangeMethod::kMinMax;
  } else if (name == "percentile") {
    o.activation_range = RangeMethod::kPercentile;
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
  } else {
    std::string list;
    for (const auto& n : recipeNames()) list += (list.empty() ? "" : ", ") + n;
    return invalidArgument("unknown --recipe '" + name + "' (available: " + list + ")");
  }
  return Status::ok();
}

}  // namespace vitq
