// Which of a QDQ export's layers ONNX Runtime's CPU provider runs as integer kernels.
//
// ONNX Runtime (1.20, graph optimization level extended or all) fuses a Conv/MatMul/Gemm whose
// inputs come from DequantizeLinear into an integer kernel: QLinearConv and QLinearMatMul when the
// output goes straight into a QuantizeLinear (a Relu or Clip in between is dropped when the
// quantizer's range lies inside it), MatMulIntegerToFloat when a MatMul's output stays float,
// QGemm for Gemm either way. A Conv whose output is not requantized (vitq's `--placement inputs`)
// runs in float on dequantized inputs, which can make the export slower than the float model.
// The forecast reads the exported graph; tests/e2e/ort_forecast_test.py checks it against the
// graphs ONNX Runtime optimizes.
#pragma once

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace vitq {

struct OrtLayerForecast {
  std::string node;
  std::string op;
  std::string kernel;  // "QLinearConv", "MatMulIntegerToFloat", ..., or "float"
  std::string why;     // why a quantized layer stays float; empty for integer kernels
  double macs = 0;     // multiply-adds per run, symbolic dims counted as 1
  bool fuses_if_requantized = false;  // float only because its output is not quantized
};

struct OrtCpuForecast {
  std::vector<OrtLayerForecast> quantized;  // layers whose inputs are dequantized, in graph order
  int float_layers = 0;                     // Conv/MatMul/Gemm with float inputs (not quantized)
  // Attention MatMuls reading a log-sqrt2 post-Softmax quantizer (RepQ-ViT): its values are powers
  // of sqrt(2), not a uniform grid, so ONNX Runtime runs them as float MatMuls. Not in float_layers.
  int float_log_quantized = 0;
  std::map<std::string, int> integer_kernels;
  int float_on_dequantized = 0;
  double integer_macs = 0, quantized_macs = 0;
  bool int8_activations = false;  // ONNX Runtime's x86 build converts some to uint8: counts less sure

  /// Share of the quantized layers' multiply-adds that run in integer kernels (1 when none).
  double integerMacShare() const { return quantized_macs > 0 ? integer_macs / quantized_macs : 1.0; }
  /// Share of the quantized layers that run in float on dequantized inputs (0 when none). Unlike the
  /// multiply-adds, it tracks latency: a float layer also pays for dequantizing its input, and
  /// depthwise Convs are few multiply-adds but slow (ConvNeXt-T: 3 % of the multiply-adds, 32 % of
  /// the layers, 0.92x FP32 latency against 0.44x with every layer integer).
  double floatLayerShare() const {
    return quantized.empty() ? 0.0 : static_cast<double>(float_on_dequantized) / static_cast<double>(quantized.size());
  }
};

OrtCpuForecast forecastOrtCpuKernels(const Graph& exported);

/// The report's `ort_cpu` section: kernel counts, the integer share and the float layers (at most
/// \p listed of them, the largest first).
nlohmann::json ortCpuSection(const OrtCpuForecast& forecast, size_t listed = 10);

}  // namespace vitq
