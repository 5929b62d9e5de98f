// The sections `vitq quantize` adds to the accuracy report: the recipe as run (settings, the steps,
// what each step did) and the quantization's counts (docs/report-format.md).
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

#include "passes/ptq/quantize_pipeline.h"
#include "vitq/quantize_flags.h"

namespace vitq::cli {

/// Fills report["recipe"], ["quantization"] and, where those steps ran, ["noisy_bias"] and
/// ["reconstruction"]; \p calibration_samples bounds the reconstruction's sample count.
void addQuantizeSections(nlohmann::json& report, const QuantizeFlags& o, const PipelineOptions& po,
                         const PipelineReport& pr, size_t calibration_samples);

}  // namespace vitq::cli
