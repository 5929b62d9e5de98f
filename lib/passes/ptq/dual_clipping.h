// RepQuant's per-channel dual clipping (algorithms.md 2.5) for the post-LayerNorm scale
// reparameterization. Each channel of a LayerNorm output has its own lower and upper bound in
// the per-channel quantizer that RepQ-ViT folds into one per-tensor scale. The fold multiplies the
// readers' weight rows by r_c = s_c / s~, so a channel with a wide range enlarges its weight rows
// and coarsens every output column's weight grid for all the other rows; a per-channel MSE search,
// which sees the activation alone, cannot weigh that. Here the bounds of the widest channels are
// pulled in wherever that lowers the readers' output error with the activation quantized, the fold
// applied and the folded weights quantized as they will be. RepQuant learns the two bounds by
// gradient descent; this searches them (greedy, per channel and side, over a grid of factors)
// against that output error, and keeps the starting bounds unless the error falls.
#pragma once

#include <cstdint>
#include <vector>

#include "ir/tensor.h"
#include "quant/quant_spec.h"

namespace vitq {

struct DualClipOptions {
  size_t sample_rows = 4096;  // rows of the activation kept from the calibration data (reservoir)
  size_t search_rows = 1024;  // of them, evenly strided, score the candidates; all of them the result
  int max_channels = 32;      // the widest channels (wider than the median) are searched
  int sweeps = 2;
  uint64_t seed = 0;
};

/// One LayerNorm output and its readers, before the fold.
struct DualClipProblem {
  const std::vector<float>* rows = nullptr;  // sampled rows of the activation, n x channels
  int64_t channels = 0;
  std::vector<Tensor> readers;  // each reader's weight as [channels, outputs]
  QuantSpec activation;         // the per-channel quantizer's type (asymmetric)
  QuantSpec weight;             // the readers' weight quantizer, per output column (axis 1)
  bool weight_mse = false;      // weight clipping by MSE search (repq-vit), else min/max
  bool median_scale = false;    // the fold's reference scale (DopQ-ViT's median)
};

struct DualClipResult {
  std::vector<float> lo, hi;  // per channel
  double loss_before = 0;     // readers' squared output error per row, starting bounds (all rows)
  double loss_after = 0;      // ... chosen bounds (never above loss_before)
  int clipped_channels = 0;   // channels whose bounds moved
};

/// The readers' squared output error per row, summed over the readers, on the first \p rows
/// sampled rows: activation quantized per channel with [lo_c, hi_c], folded to per-tensor
/// (repqFactors), weights scaled by the fold and quantized, the bias shift of the fold in float.
double foldedOutputError(const DualClipProblem& problem, const std::vector<float>& lo, const std::vector<float>& hi,
                         size_t rows);

/// Searches tighter bounds for the widest channels, starting from \p lo / \p hi.
DualClipResult searchDualClipping(const DualClipProblem& problem, const std::vector<float>& lo,
                                  const std::vector<float>& hi, const DualClipOptions& options);

}  // namespace vitq
