// The check a reconstruction runs before any work: every block must be differentiable along the
// paths its learned values take to its output (the weights whose rounding it learns, and the
// activation scales it learns with --recon-act-scales). A node on such a path without a VJP would
// otherwise stop the run when its block comes up, after the calibration and the blocks before it.
#pragma once

#include <vector>

#include "passes/ptq/block_rounding.h"

namespace vitq {

/// Fails (kUnsupported) naming the first such node, in block order, with the layers that feed it:
/// "node 'n' (TopK): no gradient (vector-Jacobian product) for op TopK; reconstruction cannot pass
/// through it (--reconstruct none, or keep the layers that feed it in float: --exclude a --exclude b)".
/// \p table may be a plan without parameters yet: weights are taken from their quantization specs.
Status checkReconstructible(const std::vector<ReconstructionBlock>& blocks, const QuantTable& table,
                            const ReconstructionOptions& options);

}  // namespace vitq
