// Sequential block reconstruction (BRECQ, algorithms.md section 10.2, with QDrop's random
// dropping of activation quantization as an option): the whole graph is cut into consecutive
// blocks, each ending where a single float tensor carries everything later nodes read (between
// residual blocks, after each conv unit of a plain stack, after each attention or MLP sub-block).
// Block by block, in order, the rounding of the block's weights is learned against the float
// model's output of the block, fed with the quantized model's own output of the blocks before it
// (already rounded), so each block also absorbs the error that reaches it. Bridge-block
// reconstruction (block_reconstruction.h) is the Q-HyViT subset of this with float inputs.
#pragma once

#include <vector>

#include "calib/dataset.h"
#include "passes/ptq/block_rounding.h"

namespace vitq {

/// Consecutive blocks covering every node of \p graph that reads a weight of \p table: each closes
/// at the first cut point (one float value live, produced inside it) after it holds at least
/// \p min_layers quantized weights; a remainder with fewer joins the block before it. A node that
/// has no VJP and reads a float computed from the inputs closes the open block at its latest cut
/// (with one layer or more), so that the gradients of the block's weights need not pass it.
/// Named "<first node> .. <output value>".
std::vector<ReconstructionBlock> sequentialReconstructionBlocks(const Graph& graph, const QuantTable& table,
                                                                int min_layers);

/// Learns each block's rounding in order on the first options.samples calibration samples (inputs
/// from the quantized model so far, targets from the float model) and writes the rounded weights
/// into \p model's initializers. \p blocks must come from sequentialReconstructionBlocks.
StatusOr<std::vector<BlockReconstructionReport>> reconstructSequentially(Model& model, QuantTable& table,
                                                                         const Dataset& calib,
                                                                         const std::vector<ReconstructionBlock>& blocks,
                                                                         const ReconstructionOptions& options);

}  // namespace vitq
