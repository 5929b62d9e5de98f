// I-ViT's integer nonlinearities as model-local ONNX functions (domain "vitq"), whose bodies use
// only standard integer ops (Cast, Add, Sub, Mul, Div, Mod, Max, Min, ReduceMax, ReduceSum,
// Gather, Greater, Equal, And, Or), so that a stock ONNX Runtime runs the exported model.
//
// Every body is a transcription of the C++ kernels of quant/math/integer_nonlinear.h, bit for bit
// (tests/passes/integer_functions_test.cpp runs the bodies with vitq's executor against them):
//
//   vitq.Shiftmax(x: int32 [..., N], x0: int64 []) -> int32
//       shiftmaxRow over the last axis with n = kShiftmaxN, k_out = kShiftmaxOutBits.
//   vitq.ShiftGELU(x: int32, x0: int64 []) -> int32
//       shiftGeluRow with per_element_max (elementwise, any layout), n = kShiftGeluN; x0 is
//       floor(-1 / (1.702 s)).
//   vitq.ILayerNorm(x: int32 [..., C], bias: int64 [C]) -> int64
//       iLayerNormRow over the last axis (mean rounded half to even, exact isqrt, floor(y F / 2) + B).
//
// Floors are explicit (integer Div truncates toward zero): floor(a / d) = trunc((a - d + 1) / d) for
// a <= 0, (a + K) / d - K / d for |a| < K (a positive dividend), (a - Mod(a, d)) / d elsewhere (Mod
// with fmod = 0 takes the divisor's sign); 2^(n - q) comes from a Gather in a table of powers of
// two (BitShift is unsigned-only). Bodies never divide by zero.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vitq {

inline constexpr const char* kIntegerDomain = "vitq";
inline constexpr int kShiftmaxN = 15;
inline constexpr int kShiftmaxOutBits = 8;  // [0, 127], scale 2^-7: int8 for MatMulInteger
inline constexpr int kShiftGeluN = 10;

/// Serialized FunctionProtos of the three functions, for Model::functions; \p opset is the
/// ai.onnx version the bodies import (the model's, >= 13).
std::vector<std::string> integerFunctionProtos(int64_t opset);

}  // namespace vitq
