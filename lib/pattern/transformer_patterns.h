// Structural matchers for the transformer pieces that quantization treats specially:
// LayerNorm (fused or decomposed), GELU (op or erf/tanh decompositions), and softmax attention
// (MatMul -> [scale, mask] -> Softmax -> MatMul). Matchers check constants and single use, not
// just op types, so a match is safe to rewrite.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace vitq {

struct LayerNormMatch {
  bool fused = false;         // a LayerNormalization node
  Value* input = nullptr;
  Value* output = nullptr;    // after the affine, when there is one
  Value* gamma = nullptr;     // constant scale, or nullptr
  Value* beta = nullptr;      // constant shift, or nullptr
  double epsilon = 0.0;
  std::vector<Node*> nodes;   // every node of the pattern, in graph order
};

struct GeluMatch {
  std::string spelling;       // "Gelu", "erf", "tanh", "com.microsoft.Gelu", ...
  Value* input = nullptr;
  Value* output = nullptr;
  std::vector<Node*> nodes;
};

struct AttentionMatch {
  Node* scores_matmul = nullptr;  // Q x K^T
  Node* softmax = nullptr;
  Node* context_matmul = nullptr; // P x V
  std::vector<Node*> between;     // scale, mask add, casts between the three
};

std::vector<LayerNormMatch> findLayerNorms(const Graph& graph);
std::vector<GeluMatch> findGelus(const Graph& graph);
std::vector<AttentionMatch> findAttention(const Graph& graph);

}  // namespace vitq
