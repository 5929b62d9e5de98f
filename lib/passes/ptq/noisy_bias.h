// NoisyQuant (algorithms.md section 3): a fixed noise vector N (one value per input channel) is
// added to an activation before its quantizer, and -N W is folded into the bias of every linear
// layer reading it, so that y^ = Q(x + N) W^ + (b - N W^). The amplitude of N is searched per
// activation on real calibration rows to minimize the consumers' output error against float.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct NoisyBiasOptions {
  uint64_t seed = 0;
  // Uniform N0 ~ U(-s, s) (the paper); the official code's Gaussian draw is N0 = s (2g - 1), g ~ N(0, 1).
  bool gaussian = false;
  int amplitude_steps = 50;         // amplitudes a = 2k / steps, k < steps: N = m + a N0 (k = 0 is no noise)
  int mean_steps = 40;              // shifts m = 2k s / steps in (-s, s), searched first (0: none)
  size_t rows = 1024;               // calibration rows kept per activation for the search
  std::vector<std::string> layers;  // consumer op types or name globs; empty: every linear input
  int threads = 1;
};

struct NoisyBiasSite {
  std::string activation;
  std::vector<std::string> consumers;
  double amplitude = 0;          // chosen multiple of N0 (0: the search kept no noise)
  double shift = 0;              // chosen common shift m
  double sqnr_before_db = 0;     // consumers' outputs vs float, on the sampled rows, without noise
  double sqnr_after_db = 0;      // ... with the chosen noise
};

/// Needs the table's weight and activation parameters; for each chosen activation inserts
/// Add(N) between it and its readers (the table's decision moves to the noisy value) and
/// corrects the readers' biases with the quantized weights.
StatusOr<std::vector<NoisyBiasSite>> applyNoisyBias(Model& model, QuantTable& table, const Dataset& calib,
                                                    const NoisyBiasOptions& options);

/// The rewrite itself: x -> Add(x, noise) -> (x's former readers, each a MatMul or Gemm), and
/// bias_k -= alpha_k noise W_k with \p weights[k] ([C_in, C_out], row-major) for reader k in use
/// order (Shape/Size readers keep x). With the float weights the model's function is unchanged.
/// Returns the noisy value.
Value* insertNoisyBias(Graph& graph, Value* x, const std::vector<float>& noise,
                       const std::vector<std::pair<Node*, Tensor>>& weights);

}  // namespace vitq
