// Named recipes (`vitq quantize --recipe NAME`): each is a pipeline text (pipeline_text.h) of the
// steps it runs with their options; docs/recipes.md describes them.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

const std::vector<std::string>& recipeNames();

/// One line on what the recipe does (for `vitq passes`).
std::string recipeSummary(const std::string& name);

/// The recipe's pipeline text. A "+noisy" suffix adds NoisyQuant to any recipe ("repq-vit+noisy").
StatusOr<std::string> recipePipeline(const std::string& name);

/// The passes of `vitq quantize` in the order they run: name and what each does.
const std::vector<std::pair<std::string, std::string>>& pipelinePasses();

/// Turns on the recipe's steps and options in \p options (a default PipelineOptions: bits,
/// exclusions and threads are left as they are).
Status applyRecipe(const std::string& name, PipelineOptions& options);

/// A recipe's per-channel depthwise inputs (q-hyvit) apply with the inputs placement only: the
/// integer placement quantizes the depthwise outputs for ONNX Runtime's QLinearConv, which takes
/// per-tensor inputs. Turns them off under the integer placement (unless a user asked for them).
void settleDepthwiseInputs(PipelineOptions& options);

}  // namespace vitq
