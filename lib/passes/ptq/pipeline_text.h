// Pipelines as text: the steps of a run with their options, as recipes are written
// (recipes.cpp), `vitq quantize --pipeline` takes them and the report records them:
//
//   ln-reparam, plan{inputs-8bit}, log-softmax, calibrate{range=mse, weights=mse}, materialize-qdq
//
// Steps are named in the order they run (`vitq passes`), each at most once; the text names every
// step that runs (plan and calibrate always do) and exactly one that writes the quantized model
// (materialize-qdq or integer-lowering).
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

/// Turns on the steps \p text names and sets their options in \p options, whose steps must all be
/// off (a default PipelineOptions); errors name the step or option at fault.
Status applyPipelineText(const std::string& text, PipelineOptions& options);

/// The text of the steps \p ran (names, in order) with their options as \p options hold them;
/// applyPipelineText reads it back to the same steps and options.
std::string pipelineText(const std::vector<std::string>& ran, const PipelineOptions& options);

/// What a step takes, for messages and `vitq passes`: "range=minmax|mse, dual-clip".
std::string stepOptionsSummary(const std::string& step);

}  // namespace vitq
