// Learned rounding of one block's weights (AdaRound/BRECQ, algorithms.md section 10): the shared
// core of the reconstruction passes. A block's cached samples hold its inputs as the quantized
// model sees them and the float model's output; the rounding of every quantized weight the block
// reads is optimized so that the block, with fake-quantized weights and activations, reproduces
// that output. Bridge-block reconstruction (block_reconstruction.h) feeds it float inputs;
// sequential reconstruction (sequential_reconstruction.h) feeds it the quantized model's own.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "autodiff/block_gradients.h"
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
  // QDrop: during the optimization each element of a quantized activation keeps its unquantized
  // value with this probability (0: every activation quantized, as evaluated).
  float drop_probability = 0.0f;
  // LSQ-style step sizes learned with the rounding (QDrop's joint optimization): the per-tensor
  // uniform quantizers of the activations each block produces get their scale optimized too.
  bool learn_activation_scales = false;
  float scale_learning_rate = 0.004f;  // Adam on log(scale)
  int threads = 1;  // the whole-model runs that cache samples, and the samples of each step in parallel
  // Fraction of a block's cached samples (the last ones) the optimization never draws: the learned
  // rounding is checked on them at each quarter of the steps and the best checkpoint is kept only
  // where it beats nearest rounding there (0: judged on the fitted samples, as before).
  float holdout = 0.0f;
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
  // ReconstructionOptions::holdout: the samples the optimization did not draw and the output MSE
  // on them with nearest rounding and with the rounding kept; the step of the kept checkpoint.
  size_t heldout_samples = 0;
  double heldout_loss_before = 0;
  double heldout_loss_after = 0;
  int kept_step = 0;
  // Per weight: the rounded weight written back against the float one the block was given.
  std::vector<std::pair<std::string, double>> weight_sqnr_db;
  // learn_activation_scales: the activations whose scale was learned, with the new scale (empty
  // when nearest was kept); the caller writes them into its quantization table.
  std::vector<std::pair<const Value*, float>> activation_scales;
  double seconds = 0;
};

/// A weight whose rounding a block learns: a constant float tensor with a uniform weight quantizer
/// (\p q, its entry in the table, may be null).
bool learnableWeight(const Value* v, const TensorQuant* q);

/// x^ of an activation quantizer (uniform per-tensor or per-channel, or log-sqrt2); non-float
/// tensors pass unchanged.
Tensor fakeQuantActivation(const Tensor& t, const TensorQuant& q);

/// A block with its cached samples, run with fake-quantized activations.
class BlockSamples {
 public:
  BlockSamples(const ReconstructionBlock& block, const QuantTable& table, int64_t opset, bool quantize_activations)
      : block_(block), table_(table), opset_(opset), quantize_activations_(quantize_activations) {}

  /// The activation quantizer of \p v, or null (not quantized, or activations left in float); an
  /// overridden scale (overrideScale) is part of it.
  const TensorQuant* activationQuant(const Value* v) const;
  /// Runs the per-tensor quantizer of \p v (a value the block produces) with \p scale; not while
  /// forward() runs.
  void overrideScale(const Value* v, float scale);
  void clearOverrides() { overrides_.clear(); }

  /// Adds a sample: the block's inputs taken from \p recorded (unquantized; they are quantized
  /// here where the model quantizes them) and the float output to reproduce.
  void addSample(const ValueTensors& recorded, Tensor target);
  size_t samples() const { return targets_.size(); }
  const Tensor& target(size_t i) const { return targets_.at(i); }

  /// Runs the block on sample \p i with \p weights replacing their initializers; each quantized
  /// activation is replaced by its fake-quantized value as soon as it is produced (the gradient
  /// passes the quantizer unchanged: straight-through). With \p drop (QDrop), each element keeps
  /// its unquantized value with probability \p drop_probability, drawn from \p drop.
  /// \p raw_output: the block output before its own quantizer (what the next block quantizes).
  /// \p raw_overridden: the values with an overridden scale before their quantizers.
  StatusOr<ValueTensors> forward(size_t i, const ValueTensors& weights, std::mt19937_64* drop = nullptr,
                                 float drop_probability = 0.0f, Tensor* raw_output = nullptr,
                                 ValueTensors* raw_overridden = nullptr) const;

  /// Mean squared error of the block output over the cached samples [begin, end) (all by default).
  StatusOr<double> loss(const ValueTensors& weights, int threads = 1, size_t begin = 0,
                        size_t end = static_cast<size_t>(-1)) const;

 private:
  const ReconstructionBlock& block_;
  const QuantTable& table_;
  int64_t opset_;
  bool quantize_activations_;
  std::vector<ValueTensors> inputs_;
  std::vector<ValueTensors> raw_inputs_;  // for QDrop: the inputs before their quantizers
  std::unordered_map<const Value*, TensorQuant> overrides_;
  std::vector<Tensor> targets_;
};

/// Learns the rounding of every quantized weight \p block reads that is not in \p done yet (adding
/// them to it), on the samples of \p samples, and writes the chosen weights (s (q - z)) into
/// \p graph's initializers. \p position / \p count only label the log lines.
StatusOr<BlockReconstructionReport> learnBlockRounding(Graph& graph, int64_t opset, const QuantTable& table,
                                                       const ReconstructionBlock& block, BlockSamples& samples,
                                                       const ReconstructionOptions& options, size_t position,
                                                       size_t count, std::unordered_set<const Value*>& done);

}  // namespace vitq
