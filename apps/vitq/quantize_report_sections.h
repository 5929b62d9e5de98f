// The sections `vitq quantize` adds to the accuracy report: the recipe as run (settings, the steps,
// what each step did) and the quantization's counts (docs/report-format.md).
#pragma once

#include <nlohmann/json.hpp>

#include "passes/ptq/quantize_pipeline.h"
#include "vitq/quantize_flags.h"

namespace vitq::cli {

/// Fills report["recipe"] and ["quantization"]; the steps that ran add their own sections
/// (QuantStep::addToReport: the recipe's ln_reparam, smooth_quant, ..., ["noisy_bias"],
/// ["reconstruction"]).
void addQuantizeSections(nlohmann::json& report, const QuantizeFlags& o, const PipelineOptions& po,
                         const PipelineReport& pr);

/// report["quantization"]["parameter_bytes"]: the initializers' stored size (4-bit values packed
/// two to a byte) in the float model as loaded and in the written one.
void addParameterBytes(nlohmann::json& report, const Graph& original, const Graph& written);

/// "parameters 6.9 MB -> 1.3 MB (0.18x); worst weight SQNR 13.2 dB ('NODE')" for the console.
std::string parametersLine(const nlohmann::json& quantization);

/// "ONNX Runtime CPU (forecast): 52 of 59 quantized layers in integer kernels (...)" for the
/// console, from the report's `ort_cpu` section; empty where nothing is quantized.
std::string ortCpuLine(const nlohmann::json& ort_cpu);

/// The warning for an export whose multiply-adds mostly run in float in ONNX Runtime's CPU
/// provider (and so may be slower than the float model there); empty when they do not.
std::string ortCpuWarning(const nlohmann::json& ort_cpu, const std::string& placement);

}  // namespace vitq::cli
