// Drives the budget search for `vitq quantize --budget`: calibrates the base configuration and
// one table per higher rung (6 and 8 bits above the base) on a copy of the model, ranks the
// layers by sensitivity, searches, and turns the chosen levels into pipeline options (per-layer
// bits, layers kept in float) for the real quantization run.
#pragma once

#include <nlohmann/json.hpp>

#include "passes/mixed/budget_search.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

struct MixedPrecisionPlan {
  std::vector<std::pair<std::string, int>> layer_bits;
  std::vector<std::string> float_nodes;
  bool met = false;
  nlohmann::json budget;       // the report's "budget" object (docs/report-format.md)
  nlohmann::json sensitivity;  // the report's "sensitivity" object (ranking used by the search)
};

/// \p options: the recipe's pipeline options (NoisyQuant and reconstruction are left to the real
/// run: the search compares plain configurations).
StatusOr<MixedPrecisionPlan> planMixedPrecision(const Model& reference, const Model& working, const Dataset& calib,
                                                const Dataset& eval, const PipelineOptions& options,
                                                const Budget& budget);

/// Adds the plan's per-layer bits and float layers to \p options.
void applyPlan(const MixedPrecisionPlan& plan, PipelineOptions& options);

}  // namespace vitq
