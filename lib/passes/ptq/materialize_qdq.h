// materialize-qdq: the only pass that writes QuantizeLinear/DequantizeLinear. Turns a calibrated
// QuantTable into standard ONNX (opset >= 13) that ONNX Runtime fuses into integer kernels:
//
//   activation v:  producer -> v -> Q(s, zp) -> DQ -> (every former use of v)
//   weight W:      W_q (int8 initializer) -> DQ(s[c], 0, axis) -> (uses of W)
//   bias b:        b_q (int32, scale s_x * s_w[c]) -> DQ(axis 0) -> (the node's bias input)
//                  (stays float where some b[c] / (s_x * s_w[c]) is past int32: clamping it
//                  would change the layer's output)
//
// Activations with fewer bits than their container are clipped to the narrow range (with one scale:
// a Clip of the integer codes between Q and DQ; per channel or in a 4-bit container: Max and Min
// before Q), so that the exported model computes what vitq simulated. The container is 8-bit, or
// with MaterializeOptions::four_bit_types ONNX's INT4/UINT4 for tensors of at most 4 bits (opset
// 21: the caller raises the model's opset, raise_opset.h). Log-sqrt2 activations become the float
// chain of log_quant_export.h instead of Q/DQ.
#pragma once

#include <string>
#include <vector>

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

/// One weight's quantization error as written.
struct WeightError {
  std::string weight, node, op;  // node: the first reader
  int bits = 8;
  std::string granularity;  // "tensor", "channel" or "block N"
  double sqnr_db = 0;       // the written weight against the float weight before rounding
};

struct MaterializeStats {
  int quantize_nodes = 0;
  int dequantize_nodes = 0;
  int weights = 0;
  int biases = 0;
  int log_quantizers = 0;  // log-sqrt2 post-Softmax fake-quantizers (log_quant_export.h)
  int per_channel_activations = 0;  // activation quantizers with one scale per channel (axis attribute)
  int four_bit_tensors = 0;  // weights and activations stored as INT4/UINT4
  int blocked_weights = 0;   // weights with one scale per block (group-wise; block_size, opset 21)
  std::vector<std::string> float_biases;  // biases kept in float, with the reason
  std::vector<WeightError> weight_errors;  // per quantized weight, in graph order of the table
};

struct MaterializeOptions {
  bool four_bit_types = false;  // tensors of at most 4 bits in INT4/UINT4 instead of 8-bit containers
  // Weights an earlier step already put on their grid (GPTQ, learned rounding), by name: their SQNR
  // against the float weight that step was given (the graph now holds the rounded one).
  const std::map<std::string, double>* rounded_weight_sqnr_db = nullptr;
};

StatusOr<MaterializeStats> materializeQdq(Graph& graph, const QuantTable& table, const MaterializeOptions& options = {});

}  // namespace vitq
