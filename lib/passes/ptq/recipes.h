// Named recipes (`vitq quantize --recipe NAME`): each is a preset of PipelineOptions
// (docs/recipes.md describes them).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

const std::vector<std::string>& recipeNames();

/// Sets the recipe's switches in \p options (bits, exclusions and threads are left as they are).
/// A "+noisy" suffix adds NoisyQuant to any recipe ("repq-vit+noisy").
Status applyRecipe(const std::string& name, PipelineOptions& options);

}  // namespace vitq
