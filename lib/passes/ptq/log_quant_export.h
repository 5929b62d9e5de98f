// The log-sqrt2 quantizer of post-Softmax activations (RepQ-ViT) written in standard ONNX ops that
// ONNX Runtime runs at memory speed: code q = clamp(round(-2 log2(x / s)), 0, 2^b - 1), codes past
// 2^b - 1 giving 0, x^ = s 2^(-q/2).
//
// The rounding and clamping is a uint8 QuantizeLinear of log(x / s) (capped at 0 below 8 bits) on
// the half-octave grid (step ln2/2) with zero point 2^b (255 at 8 bits): the index 2^b - q, which
// saturates to 0 for the codes past the last. A DequantizeLinear and an Exp give 2^(-q/2), and a
// second DequantizeLinear of min(index, 1) with scale s gives s, or 0 for those codes. The log comes from LogSoftmax when x is a Softmax's output (ONNX Runtime
// vectorizes LogSoftmax and Exp but not Log or Pow; the former chain of Div, Log, Round, Ceil, Pow
// and Where took 8x as long). At 8 bits the index has no room for code 255, which gives 0 instead
// of s 2^-127.5.
#pragma once

#include "ir/graph.h"

namespace vitq {

/// Inserts the fake-quantizer after \p v (before \p before) and redirects v's node uses to its
/// output; returns the output. A Softmax producing \p v is replaced by the LogSoftmax the
/// quantizer reads, unless something else still reads \p v.
Value* insertLogSqrt2FakeQuant(Graph& graph, Value* v, float scale, int bits, Node* before);

}  // namespace vitq
