// normalize-export-style: float-equivalent rewrites of the ways exporters write the same model
// differently, so that quantization sees one form:
//
//   weights listed as graph inputs (IR < 4, keep_initializers_as_inputs)  -> constants
//   Identity(constant) -> v  (torch's de-duplicated parameters)          -> the constant itself
//   Transpose/Cast/Reshape/... of constants (do_constant_folding=False,
//     float16 weights read through Cast)                                 -> the folded constant
//   Dropout (inference) -> v  (torchvision's Swin between Softmax and MatMul) -> its input
//   Einsum "..ik,..kj->..ij" / "..ik,..jk->..ij" (attention in einsum form)  -> MatMul
//   Gemm(A, B, C, alpha, beta) with constant B and C                     -> Gemm(A, alpha*B, beta*C)
//   one bias constant read by several Conv/ConvTranspose/Gemm           -> a copy per layer
//
// Why: an input that has an initializer but no feed was calibrated as an activation that never
// ran; a weight behind a Transpose or Cast is no constant to the passes that fold into weights
// (RepQ-ViT's reparameterization found no LayerNorm to fold in such exports); a Dropout between
// Softmax and MatMul hides the attention from the post-Softmax quantizer; ONNX Runtime's QGemm reads an int32 bias at scale alpha/beta * sx * sw, not sx * sw; and a
// bias shared by two layers (or by a layer and a LayerNorm) gets no int32 scale of its own.
#pragma once

#include <string>
#include <vector>

#include "ir/graph.h"

namespace vitq {

struct ExportStyleFixes {
  std::vector<std::string> frozen_inputs;  // initializers that were also graph inputs
  size_t folded_identities = 0;          // Identity and inference Dropout read past
  size_t folded_constants = 0;            // cheap ops of constants computed once
  size_t folded_gemm_scalars = 0;         // Gemm nodes whose alpha/beta moved into B/C
  size_t einsum_matmuls = 0;              // Einsum batched matrix products written as MatMul
  size_t unshared_biases = 0;             // bias copies made for layers sharing one
  bool any() const {
    return !frozen_inputs.empty() || folded_identities || folded_constants || folded_gemm_scalars || einsum_matmuls ||
           unshared_biases;
  }
};

/// Applies every rewrite above to \p graph (deterministic: graph order); \p opset is the model's
/// ai.onnx opset (the kernels that fold constants read it).
ExportStyleFixes normalizeExportStyle(Graph& graph, int64_t opset);

}  // namespace vitq
