// Named recipes (`vitq quantize --recipe NAME`): each is a preset of PipelineOptions
// (docs/recipes.md describes them).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

const std::vector<std::string>& recipeNames();

/// One line on what the recipe does (for `vitq passes`).
std::string recipeSummary(const std::string& name);

/// The passes of `vitq quantize` in the order they run: name and what each does.
const std::vector<std::pair<std::string, std::string>>& pipelinePasses();

/// Sets the recipe's switches in \p options (bits, exclusions and threads are left as they are).
/// A "+noisy" suffix adds NoisyQuant to any recipe ("repq-vit+noisy").
Status applyRecipe(const std::string& name, PipelineOptions& options);

}  // namespace vitq
