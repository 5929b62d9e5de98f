// bridge-block-reconstruction (Q-HyViT, algorithms.md section 4, with AdaRound/BRECQ's learned
// rounding, section 10): after the pipeline has chosen every weight and activation parameter,
// each block's quantized weights get their rounding (up or down per element) optimized so that the
// block's output, with fake-quantized weights and activations, matches the float block on cached
// calibration samples. The chosen weights are written back on their grid (the initializer holds
// s (q - z)), so materialize-qdq exports exactly the learned codes with the unchanged parameters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct ReconstructionOptions {
  int iterations = 400;          // Adam steps per block
  size_t samples = 128;          // calibration samples cached per block (the first N)
  int batch = 4;                 // samples per step, drawn from the cache with the seed
  float learning_rate = 0.1f;    // Adam on the rounding variables V (few steps: large)
  float lambda = 0.01f;          // rounding regularizer weight
  float warmup = 0.2f;           // fraction of steps without the regularizer
  uint64_t seed = 0;
  bool quantize_activations = true;  // fake-quantize the block's activations (straight-through)
  int threads = 1;                   // for caching the float tensors (the optimization is single-threaded)
};

/// One unit: nodes of the graph in topological order, the non-constant values they read from
/// outside, and the value whose error is minimized.
struct ReconstructionBlock {
  std::string name;
  std::vector<const Node*> nodes;
  std::vector<const Value*> inputs;
  const Value* output = nullptr;
};

struct BlockReconstructionReport {
  std::string name;
  std::string output;
  std::vector<std::string> weights;  // the weight values whose rounding was learned
  int64_t elements = 0;              // their element count
  int64_t flipped = 0;               // elements whose code differs from round-to-nearest
  double loss_before = 0;            // output MSE vs float on the cached samples, nearest rounding
  double loss_after = 0;             // ... with the learned rounding (never above loss_before)
  bool kept_nearest = false;         // learned rounding was not better; nearest kept
  double seconds = 0;
};

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
