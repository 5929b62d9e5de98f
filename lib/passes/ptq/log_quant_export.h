// The log-sqrt2 quantizer of post-Softmax activations (RepQ-ViT) written in standard ONNX ops,
// in its log2 form: code q = clamp(round(-2 log2(x / s)), 0, 2^b - 1) (codes past 2^b - 1 give 0),
// x^ = s 2^(-ceil(q / 2)) (sqrt(2) when q is odd, else 1). The power of two is the bit shift an
// integer kernel would apply; the parity picks one of two scales. ONNX Runtime and vitq's executor
// run the same float ops, so their outputs agree.
#pragma once

#include "ir/graph.h"

namespace vitq {

/// Inserts the fake-quantizer after \p v (before \p before) and redirects v's node uses to its
/// output; returns the output.
Value* insertLogSqrt2FakeQuant(Graph& graph, Value* v, float scale, int bits, Node* before);

}  // namespace vitq
