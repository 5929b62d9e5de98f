// SmoothQuant (algorithms.md sections 0.5 and 11): moves the quantization difficulty of
// activations with outlier channels into the next layer's weights. For an activation X read by
// linear layers with constant weights, per input channel c:
//   s_c = max|X_c|^alpha / max_o |W[c, o]|^(1 - alpha)   (the max over every such reader's W)
// the readers get W'[c, :] = s_c W[c, :] and read X / s instead of X, so the float model is
// unchanged. X / s is folded into a LayerNorm's affine when X is a LayerNorm output read only by
// those layers; otherwise a Mul node computes it (X's other readers keep X).
#pragma once

#include <functional>
#include <vector>

#include "calib/dataset.h"
#include "core/status.h"
#include "ir/graph.h"

namespace vitq {

struct SmoothSite {
  Value* input = nullptr;        // X
  std::vector<Node*> consumers;  // MatMul/Gemm reading X as input 0 with constant weights
  int64_t channels = 0;
};

/// Activations read by at least one linear layer that \p wanted accepts (all when null), with
/// every such reader that agrees on the channel count.
std::vector<SmoothSite> findSmoothSites(Graph& graph, const std::function<bool(const Node&)>& wanted = nullptr);

/// s_c for activation maxima \p act_absmax and weight maxima \p weight_absmax; channels where
/// either is zero keep 1; s is clamped to [1e-5, 1e5] so that no weight row over- or underflows.
std::vector<float> smoothingScales(const std::vector<float>& act_absmax, const std::vector<float>& weight_absmax,
                                   double alpha);

/// max_o |W[c, o]| over every consumer of \p site, per input channel c.
std::vector<float> smoothWeightAbsMax(const SmoothSite& site);

/// Rewrites the graph so that the consumers read X / s with rows of W scaled by s; true when X / s
/// was folded into a LayerNorm's affine, false when a Mul node computes it.
StatusOr<bool> applySmoothing(Graph& graph, const SmoothSite& site, const std::vector<float>& s);

struct SmoothReport {
  std::string input;  // X
  int consumers = 0;
  float max_scale = 0, min_scale = 0;
};

/// Calibrates per-channel maxima of every site's input on \p calib (\p threads executor threads)
/// and smooths them all with \p alpha.
StatusOr<std::vector<SmoothReport>> smoothActivations(Model& model, const Dataset& calib, double alpha,
                                                      const std::function<bool(const Node&)>& wanted, int threads);

}  // namespace vitq
