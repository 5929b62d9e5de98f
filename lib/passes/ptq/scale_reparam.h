// RepQ-ViT's post-LayerNorm scale reparameterization (algorithms.md 0.5 and 2.2). A LayerNorm
// whose output feeds only linear layers with constant weights can have its output replaced by
// X' = (X - delta) / sigma per channel: the LayerNorm affine absorbs the transform
// (gamma' = gamma / sigma, beta' = (beta - delta) / sigma) and every consumer undoes it
// (W'[c, :] = sigma_c W[c, :], bias' = bias + delta W), so the float model is unchanged. Choosing
// sigma and delta from per-channel quantization parameters makes one per-tensor quantizer on X'
// reproduce the per-channel quantization of X.
#pragma once

#include <vector>

#include "core/status.h"
#include "ir/graph.h"
#include "pattern/transformer_patterns.h"
#include "quant/quant_spec.h"

namespace vitq {

struct ChannelFoldSite {
  LayerNormMatch norm;
  std::vector<Node*> consumers;  // MatMul (input 0) or Gemm (input A, transA = 0) with constant weights
  int64_t channels = 0;
};

/// LayerNorms (fused or decomposed) whose output is not a graph output and feeds only MatMul or
/// Gemm nodes as their first input, with constant weights that agree on the channel count (Shape
/// and Size readers are allowed: the shape does not change).
std::vector<ChannelFoldSite> findChannelFoldSites(const Graph& graph);

/// The readers' weights as [channels, outputs] matrices (a Gemm's transB undone, its alpha
/// folded in), in the order of site.consumers.
std::vector<Tensor> readerWeightMatrices(const ChannelFoldSite& site);

/// Applies X' = (X - delta) / sigma to the site's output with the compensating rewrites; returns
/// the value the consumers now read (the LayerNorm output, or an affine node added after it).
/// New initializers replace the old ones (shared weights are never modified in place).
StatusOr<Value*> foldChannelTransform(Graph& graph, const ChannelFoldSite& site, const std::vector<float>& sigma,
                                      const std::vector<float>& delta);

/// RepQ-ViT's factors from per-channel parameters (s_c, z_c): the per-tensor target
/// s~ = mean (or median) of s_c, z~ = round(mean z_c); sigma_c = s_c / s~ and
/// delta_c = sigma_c s~ (z~ - z_c). Channels with a degenerate (all-zero) range keep sigma 1, delta 0.
struct RepqFactors {
  std::vector<float> sigma, delta;
  QuantParams per_tensor;  // (s~, z~)
};
RepqFactors repqFactors(const QuantParams& per_channel, const std::vector<bool>& degenerate, bool median_scale);
/// The same from per-channel ranges [lo_c, hi_c] for the per-channel quantizer \p spec; channels
/// whose range (widened to include 0) is empty are the degenerate ones.
RepqFactors repqFactorsFromRanges(const std::vector<float>& lo, const std::vector<float>& hi, const QuantSpec& spec,
                                  bool median_scale);

}  // namespace vitq
