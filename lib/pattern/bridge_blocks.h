// Boundaries between convolutional and transformer regions of hybrid models (MobileViT, SVTR,
// conv-stem ViTs): where a feature map is reshaped into tokens, or tokens back into a feature map.
// Found from the graph's structure: a Conv connected to a token op (LayerNorm, MatMul, Gemm)
// through layout and elementwise ops only, with at least one layout change on the way.
#pragma once

#include <vector>

#include "ir/graph.h"

namespace vitq {

struct BridgeMatch {
  enum class Direction { kConvToTransformer, kTransformerToConv };
  Direction direction = Direction::kConvToTransformer;
  Node* conv = nullptr;          // last conv before, or first conv after, the transformer region
  Node* token_op = nullptr;      // first or last token op (LayerNorm start, MatMul, Gemm)
  std::vector<Node*> layout_ops; // the Reshape/Transpose/Flatten nodes between them
};

std::vector<BridgeMatch> findBridges(const Graph& graph);

/// A reconstruction unit around one bridge (Q-HyViT's bridge block): every node on a path from its
/// start to its output, in graph order, including the shape arithmetic in between.
/// - conv -> transformer: from the bridge's conv through the layout ops into the first transformer
///   layer, up to the first residual Add that reads the token op's input (the first attention's
///   output in a pre-norm block); without one, the first attention's output projection (with its
///   bias Add), else the token op's output.
/// - transformer -> conv: from the last token op through the layout ops to the conv's output.
struct BridgeBlock {
  BridgeMatch bridge;
  std::vector<Node*> nodes;          // graph (topological) order
  std::vector<const Value*> inputs;  // non-constant values the nodes read and do not produce
  Value* output = nullptr;
};

std::vector<BridgeBlock> findBridgeBlocks(const Graph& graph);

const char* bridgeDirectionName(BridgeMatch::Direction d);

}  // namespace vitq
