// Which layers of an inputs-placement quantization to requantize for ONNX Runtime's CPU provider.
//
// With --placement inputs a Conv's output is not quantized, so ONNX Runtime runs the Conv in float
// on dequantized inputs (PP-OCR rec: 1.4x its FP32 latency). Quantizing that output as well lets it
// fuse the Conv into QLinearConv, at the cost of one more rounding. The search scores each such
// layer with its output quantized alone, then adds them cheapest first while the model's output
// SQNR stays within a tolerance of the inputs placement's (a bisection over how many).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "passes/ptq/quantize_pipeline.h"

namespace vitq {

struct PlacementSearchResult {
  std::vector<std::string> requantized;  // node names, in graph order
  double baseline_sqnr_db = 0;           // the inputs placement
  double final_sqnr_db = 0;              // with the requantized outputs
  nlohmann::json report;                 // candidates, their cost alone, evaluations, seconds
};

/// \p options: an inputs-placement pipeline (quantize_outputs false). Calibrates on \p calib and
/// scores against \p reference on \p judge; \p tolerance_db: how much output SQNR the added
/// quantizers may cost together.
StatusOr<PlacementSearchResult> searchRequantizedOutputs(const Model& reference, const Model& working,
                                                         const Dataset& calib, const Dataset& judge,
                                                         const PipelineOptions& options, double tolerance_db);

}  // namespace vitq
