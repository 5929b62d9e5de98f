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

const char* bridgeDirectionName(BridgeMatch::Direction d);

}  // namespace vitq
