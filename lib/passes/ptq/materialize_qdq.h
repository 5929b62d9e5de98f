// materialize-qdq: the only pass that writes QuantizeLinear/DequantizeLinear. Turns a calibrated
// QuantTable into standard ONNX (opset >= 13) that ONNX Runtime fuses into integer kernels:
//
//   activation v:  producer -> v -> Q(s, zp) -> DQ -> (every former use of v)
//   weight W:      W_q (int8 initializer) -> DQ(s[c], 0, axis) -> (uses of W)
//   bias b:        b_q (int32, scale s_x * s_w[c]) -> DQ(axis 0) -> (the node's bias input)
//
// Activations with fewer bits than their 8-bit container are clipped to the narrow range first
// (a Clip before Q), so that the exported model computes what vitq simulated. Log-sqrt2
// activations become the float chain of log_quant_export.h instead of Q/DQ.
#pragma once

#include "core/status.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct MaterializeStats {
  int quantize_nodes = 0;
  int dequantize_nodes = 0;
  int weights = 0;
  int biases = 0;
  int log_quantizers = 0;  // log-sqrt2 post-Softmax fake-quantizers (log_quant_export.h)
  int per_channel_activations = 0;  // activation quantizers with one scale per channel (axis attribute)
};

StatusOr<MaterializeStats> materializeQdq(Graph& graph, const QuantTable& table);

}  // namespace vitq
