// 16-bit floats: IEEE binary16 (ONNX FLOAT16) and bfloat16 (ONNX BFLOAT16), held as their bit
// patterns in uint16_t. Narrowing rounds to nearest, ties to even (as numpy, ONNX Runtime and the
// F16C instructions do); overflow gives Inf, NaN stays NaN (quieted, sign and top payload bits
// kept), subnormals are produced and read exactly. Widening to float is exact.
//
// From double (or an integer through long double) the value is first rounded to float with
// round-to-odd, which keeps the one rounding step that matters: a double just past a binary16
// tie rounds away from it, where double -> float -> binary16 would round twice and could land on
// the tie's even side.
#pragma once

#include <cstdint>

#include "ir/tensor.h"

namespace vitq {

/// True for FLOAT16 and BFLOAT16.
inline bool is16BitFloat(DataType t) { return t == DataType::kFloat16 || t == DataType::kBFloat16; }

float halfBitsToFloat(uint16_t bits);
uint16_t toHalfBits(float value);
uint16_t toHalfBits(double value);
uint16_t toHalfBits(long double value);

float bfloat16BitsToFloat(uint16_t bits);
uint16_t toBFloat16Bits(float value);
uint16_t toBFloat16Bits(double value);
uint16_t toBFloat16Bits(long double value);

/// \p t as float32 when it holds float16 or bfloat16 (a new tensor); any other tensor is returned
/// as it is (the same buffer).
Tensor widenToFloat(const Tensor& t);
/// A float32 tensor rounded to \p to (float16 or bfloat16).
Tensor narrowFromFloat(const Tensor& t, DataType to);

}  // namespace vitq
