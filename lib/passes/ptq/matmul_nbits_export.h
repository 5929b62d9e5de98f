// The weight-only export for ONNX Runtime's block-wise 4-bit kernel (materialize-qdq{matmul-nbits},
// `--weight-format matmul-nbits`): each MatMul (or Gemm with alpha 1) whose weight is a 4-bit
// DequantizeLinear of constant codes becomes one com.microsoft.MatMulNBits node
//
//   A -> MatMul(A, DQ(W_q, s, z, axis, block_size))   =>   A -> MatMulNBits(A, B, scales[, zero_points])
//
// with the layout ONNX Runtime defines: B uint8 [N, ceil(K / block), block / 2], column n's codes of
// block b stored as unsigned 4-bit values two per byte (low nibble first, a partial last block padded
// with zero codes); scales [N * blocks] float; zero points packed the same way, two per byte, or left
// out when every one is 8 (symmetric int4 codes are stored shifted by 8). The dequantized weights are
// exactly DequantizeLinear's. A per-channel weight is one block of the smallest power of two >= K.
// MatMulNBits takes block sizes that are powers of two >= 16; weights on other blocks keep their
// DequantizeLinear, and the report says why.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

struct MatMulNBitsStats {
  int fused = 0;                  // MatMulNBits nodes written
  int gather_nodes = 0;           // GatherBlockQuantized nodes written (gather_block_quantized_export.h)
  std::vector<std::string> kept;  // "node: reason" for 4-bit weights left as DequantizeLinear
};

/// Rewrites every eligible 4-bit weight DequantizeLinear -> MatMul/Gemm of \p model into MatMulNBits
/// and imports the com.microsoft domain when it writes one.
StatusOr<MatMulNBitsStats> writeMatMulNBits(Model& model);

}  // namespace vitq
