// fold-batchnorm: Conv -> BatchNormalization (inference, constant parameters) becomes one Conv.
//
//   y = gamma * (conv(x, W) + b - mean) / sqrt(var + eps) + beta
//     = conv(x, W * a[c]) + (b - mean) * a[c] + beta,   a = gamma / sqrt(var + eps)
//
// Preconditions: the Conv's output is used only by the BatchNormalization, its weight (and bias)
// are constants used by no other node, the BN has one output and constant parameters. Run before
// quantization: otherwise the Conv output is quantized per tensor before BN rescales its channels,
// which loses the channels BN amplifies. The folded Conv's output keeps the BN output's name.
#pragma once

#include "ir/graph.h"

namespace vitq {

/// Returns how many BatchNormalization nodes were folded.
size_t foldBatchNorms(Graph& graph);

}  // namespace vitq
