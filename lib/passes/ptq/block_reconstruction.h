// bridge-block-reconstruction (Q-HyViT, algorithms.md section 4, with AdaRound/BRECQ's learned
// rounding, section 10): after the pipeline has chosen every weight and activation parameter,
// each block's quantized weights get their rounding (up or down per element) optimized so that the
// block's output, with fake-quantized weights and activations, matches the float block on cached
// calibration samples. The chosen weights are written back on their grid (the initializer holds
// s (q - z)), so materialize-qdq exports exactly the learned codes with the unchanged parameters.
#pragma once

#include <vector>

#include "calib/dataset.h"
#include "passes/ptq/block_rounding.h"

namespace vitq {

/// The bridge blocks of \p graph (pattern/bridge_blocks.h) as reconstruction units, named
/// "<direction>: <start node> .. <output>".
std::vector<ReconstructionBlock> bridgeReconstructionBlocks(const Graph& graph);

/// Learns the rounding of every quantized weight read by each block, in order (a weight already
/// learned by an earlier block stays as it is), and writes the rounded weights into \p model's
/// initializers. \p table must hold the weight and activation parameters.
StatusOr<std::vector<BlockReconstructionReport>> reconstructBlocks(Model& model, const QuantTable& table,
                                                                   const Dataset& calib,
                                                                   const std::vector<ReconstructionBlock>& blocks,
                                                                   const ReconstructionOptions& options);

}  // namespace vitq
