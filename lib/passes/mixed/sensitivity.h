// Per-layer sensitivity: how much each layer's quantization hurts the model's output. For every
// unit, the end-to-end error when only it is quantized and when all but it are; for every
// activation quantizer, the error when only it is. One calibrated table serves every measurement.
#pragma once

#include <nlohmann/json.hpp>

#include <vector>

#include "passes/mixed/config_evaluator.h"
#include "passes/mixed/quant_units.h"

namespace vitq {

struct UnitSensitivity {
  size_t unit = 0;  // index into the units
  ConfigMetrics only;
  ConfigMetrics all_but;
  bool has_all_but = false;
};

struct SensitivityResult {
  ConfigMetrics all_quantized;
  std::vector<UnitSensitivity> layers;  // most sensitive first
  std::vector<std::pair<const Value*, ConfigMetrics>> activations;  // most sensitive first
};

struct SensitivityOptions {
  bool layers_all_but = true;  // also measure "all but this layer" (one more run per layer)
  bool activations = true;     // also rank the activation quantizers alone
};

/// Ranks by the output SQNR with only that layer (activation) quantized, lowest first; ties by
/// the SQNR with all but it quantized, highest first.
StatusOr<SensitivityResult> analyzeSensitivity(const std::vector<QuantUnit>& units, const QuantTable& table,
                                               const ConfigEvaluator& evaluator, const SensitivityOptions& options);

/// The report's "sensitivity" object (docs/report-format.md).
nlohmann::json sensitivityJson(const SensitivityResult& result, const std::vector<QuantUnit>& units,
                               const QuantTable& table);

/// Metrics as report fields with a prefix: {prefix}sqnr_db, {prefix}cosine, {prefix}top1_agreement.
void putMetrics(nlohmann::json& out, const std::string& prefix, const ConfigMetrics& m);

}  // namespace vitq
