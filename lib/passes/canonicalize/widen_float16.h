// widen-float16: a float16 (or bfloat16) model computes in float32 between casts at its interface.
//
//   before:  x:f16 -> Conv(W:f16) -> Add(B:f16) -> Cast(to=f16) ... -> y:f16
//   after:   x:f16 -> Cast(to=f32) -> Conv(W:f32) -> Add(B:f32) -> Cast(to=f32) ... -> y_float32
//                 -> Cast(to=f16) -> y:f16
//
// Every 16-bit float initializer is converted to float32 (exactly), every value typed float16 or
// bfloat16 is retyped float32, Cast nodes to a 16-bit float (and ops with a 16-bit float `dtype`
// attribute: RandomNormal, EyeLike, ...) produce float32 instead, and 16-bit float attribute
// tensors (ConstantOfShape's value, Constant's) become float32; CastLike follows its widened
// second input. Subgraphs (If/Loop bodies) are widened whole. The main graph's inputs and outputs
// keep their types: a 16-bit float input is read through one Cast(to=FLOAT) placed first (the
// nodes read its output, named <input>_float32), and a 16-bit float output is produced by a final
// Cast back to its type, keeping the output's name (the value that fed it is renamed
// <output>_float32); an output already produced by a Cast to its type that nothing else reads
// keeps that Cast. An initializer listed as a graph input is a weight and is widened in place.
//
// What changes: each op runs in float32 on the float16 values widened exactly, where the original
// rounds every intermediate to 16 bits, so outputs agree within float16 rounding (closer to the
// exact result). Why: vitq's kernels compute in float32, and the QDQ export keeps the float parts
// of the model in float32 (ONNX Runtime fuses QDQ in float32; DequantizeLinear to float16 needs
// opset 19). Not widened: sequence/optional values whose element type is float16 (kept opaque).
#pragma once

#include <cstddef>

#include "ir/graph.h"

namespace vitq {

struct WidenReport {
  size_t initializers = 0;  // 16-bit float initializers converted to float32
  size_t values = 0;        // other values retyped float32
  size_t casts = 0;         // Cast/CastLike nodes (and `dtype` attributes) that now give float32
  size_t attributes = 0;    // attribute tensors converted
  size_t input_casts = 0;   // Cast(to=FLOAT) nodes added after graph inputs
  size_t output_casts = 0;  // Cast(to=FLOAT16/BFLOAT16) nodes added before graph outputs
  bool any() const { return initializers || values || casts || attributes || input_casts || output_casts; }
};

/// Applies the rewrite above to \p graph and its subgraphs (deterministic: graph order). A model
/// without 16-bit floats is left unchanged (the report's any() is false).
WidenReport widenFloat16(Graph& graph);

}  // namespace vitq
