// awq (Lin et al., "AWQ: Activation-aware Weight Quantization for LLM Compression and
// Acceleration", 2024): before weight-only quantization, the input channels that carry large
// activations get finer weight steps. For an activation X read by linear layers with weights W
// (a site, as SmoothQuant's: q, k and v share theirs), per input channel c
//   s_c = mean|X_c|^alpha, normalized by sqrt(max s * min s),
// the readers get W'[c, :] = s_c W[c, :] and read X / s (folded into a LayerNorm's affine where X is
// a LayerNorm output read only by them, else a Mul node), so the float model is unchanged. alpha is
// searched on a grid of `grid` points in [0, 1): the one with the least squared output error of the
// readers with their weights quantized as planned,
//   err(alpha) = sum over readers tr(E H E^T),  E = Q(W S) S^-1 - W,  H = X^T X,
// on the calibration inputs. alpha = 0 (s = 1) is plain round-to-nearest, so a site never gets
// worse on those inputs. Min/max ranges on the plan's grid (per channel or per group).
//
// Then (clip = true, AWQ's clipping search) each group of each reader's scaled weight (a block along
// the input dimension, or a whole output column when per-channel) gets the range r x [min, max] with
// r in {1, 0.95, ..., 0.55} that gives the least squared output error of that group alone,
// e^T H_gg e with H the Gram of X / s; the weights are clamped to it, so that the calibrate step's
// min/max finds that range. This changes the float weights (outliers of a group are clipped).
#pragma once

#include <string>
#include <vector>

#include "calib/dataset.h"
#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct AwqOptions {
  int grid = 20;         // alpha in {0, 1/grid, ..., (grid-1)/grid} (the paper's 20 points)
  size_t samples = 128;  // calibration samples whose inputs build X^T X and mean |X| (the first N)
  bool clip = true;      // the clipping search after the scales
  int threads = 1;
};

struct AwqSiteReport {
  std::string activation;  // X
  int consumers = 0;
  int64_t rows = 0;        // input rows observed
  double alpha = 0;        // chosen; 0: left unscaled
  // The readers' squared output error per row, summed over the readers, with plain rounding and
  // with the chosen scales.
  double error_nearest = 0;
  double error_awq = 0;   // with the chosen scales and, with clipping, the clipped weights
  int clipped_groups = 0;  // weight groups whose range was narrowed
  bool folded = false;     // X / s folded into a LayerNorm; false: a Mul node computes it (or alpha 0)
  float min_scale = 1, max_scale = 1;
};

/// Searches and applies AWQ scales (and, with options.clip, the clipping) for every activation read by MatMul/Gemm layers whose weights
/// \p planned quantizes (2-D constant weights; specs only, parameters are computed here from the
/// scaled weights), observing the first samples of \p calib on the float model.
StatusOr<std::vector<AwqSiteReport>> awqScaleWeights(Model& model, const QuantTable& planned, const Dataset& calib,
                                                     const AwqOptions& options);

}  // namespace vitq
