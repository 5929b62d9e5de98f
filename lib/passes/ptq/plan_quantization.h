// Decides what to quantize (fills a QuantTable without parameters): for every compute node
// (Conv, ConvTranspose, Gemm, MatMul) its float activation inputs and its output (per-tensor),
// its constant weight (per-channel, symmetric) and its constant bias (int32, derived scale).
// LayerNorm, Softmax, GELU and residual adds stay float (the transformer-aware default: see
// docs/recipes.md). Nodes can be excluded by name glob or op type.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ir/graph.h"
#include "quant/quant_table.h"

namespace vitq {

struct QuantOptions {
  int weight_bits = 8;
  int activation_bits = 8;
  bool activation_symmetric = false;  // default: uint8 asymmetric activations
  std::vector<std::string> exclude;   // node name globs or op types kept in float
  // Mixed precision: node name -> at least this many bits for its weight and for the activations it
  // reads and writes (an activation shared by several layers gets the most any of them asks for).
  std::vector<std::pair<std::string, int>> layer_bits;
  std::vector<std::string> float_nodes;  // exact node names kept in float (the budget search's choice)
  // false: only the inputs of compute layers are quantized (NNCF's placement): one rounding per
  // layer instead of two, but ONNX Runtime then runs the layers in float on dequantized inputs.
  bool quantize_outputs = true;
  // With quantize_outputs false: compute nodes (exact names) whose output is quantized anyway, so
  // that ONNX Runtime runs them as integer kernels (QLinearConv) where that costs little accuracy
  // (the placement search of --target ort-cpu).
  std::vector<std::string> requantized_outputs;
  int max_weight_bits = 8;  // 7 keeps ONNX Runtime's u8s8 kernels exact on CPUs without VNNI
  // Q-HyViT's granularity rule: the input of a depthwise Conv gets one scale per channel (axis 1).
  // Integer-friendly: output channel m reads only input channel m / multiplier, so that channel's
  // input scale joins the weight's per-channel scale in the requantization multiplier. Only where
  // the depthwise Conv's output is not quantized, i.e. with quantize_outputs false (ONNX Runtime's
  // QLinearConv, the point of quantized outputs, takes per-tensor inputs only).
  bool depthwise_channel_inputs = false;
  // Weight-only quantization (language models): only the constant 2-D weights of MatMul and Gemm,
  // activations and biases float; with weight_group_size > 0 each block of that many weights
  // along the input dimension gets its own scale (ONNX's blocked DequantizeLinear, opset 21).
  bool weights_only = false;
  int weight_group_size = 0;
  bool weight_asymmetric = false;  // weight-only: unsigned codes with a zero point per scale (uint4 [0, 15])
  // Weight-only: also the constant 2-D tables Gather reads along axis 0 (token embeddings, often the
  // largest tensor of a language model), one scale per row or per weight_group_size block of a row.
  bool embeddings = false;
};

struct QuantPlanSummary {
  int compute_nodes = 0;
  int quantized_nodes = 0;
  int embedding_tables = 0;  // Gather tables planned (QuantOptions::embeddings)
  std::vector<std::string> excluded;  // "name (Op): reason"
};

/// Whether \p pattern names \p node as --exclude reads it: its op type in any case, a glob over its name,
/// or a glob over an output tensor name (for a layer with a bias Add, also the Add's output, as reports list it).
bool matchesNodePattern(const Node& node, const std::string& pattern);

/// Refuses a pattern of \p option that names no node of any of \p graphs: a misspelt --exclude
/// would otherwise quantize the layer it meant to keep, and no error would say so.
Status checkNodePatterns(const std::vector<const Graph*>& graphs, const std::vector<std::string>& patterns,
                         const std::string& option);

/// Returns the table (specs only) and what was left out and why.
QuantTable planQuantization(const Graph& graph, const QuantOptions& options, QuantPlanSummary* summary = nullptr);

/// A Conv whose every output channel reads one input channel (weight [M, 1, k..], group = C).
bool isDepthwiseConv(const Node& node);

/// Min/max parameters of weight \p w (named \p name in errors) on \p spec's layout: per tensor, per
/// channel along spec.axis, or per block of spec.block_size along it. NaN or Inf is refused.
StatusOr<QuantParams> minMaxWeightParams(const Tensor& w, const QuantSpec& spec, const std::string& name);

/// Fills weight and bias parameters from the constant data; activation parameters come from
/// calibration (setActivationParams).
Status computeWeightParams(QuantTable& table);

}  // namespace vitq
