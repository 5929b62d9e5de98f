// I-ViT's integer-only nonlinear kernels (docs/algorithms.md §1.2–1.5), pure arithmetic, no graph:
// ShiftExp, Shiftmax, ShiftGELU and I-LayerNorm with an exact integer square root.
//
// Each kernel has a plan, built once per layer from float scales (the only floating-point step,
// "compile time"), and a row function on integer codes. Every floor of the recipe is a real floor:
// floorDiv for divisions, arithmetic right shifts on negative values (C++ '/' truncates).
//
// Scales: ShiftExp maps codes of scale s to codes of scale s / 2^n; Shiftmax outputs scale
// 2^−(k_out−1); ShiftGELU outputs scale s · 2^−7; I-LayerNorm outputs per channel γ_c · √C / 2^30.
//
// Measured accuracy against the float functions over every int8 input code and a sweep of scales
// (tests/quant/integer_math_test.cpp asserts ~1.5x these; docs/integer-kernels.md has the tables).
// A = 127 s is an int8 input's real absmax. The kernels also match a double-precision
// transcription of §1.2–1.5 bit for bit.
//   ShiftExp n=15, x in [−255, 0]: relative error where exp ≥ 2^−7: 0.071 for 1/s ≥ 256, 0.16 for
//     1/s in [64, 256), 0.50 in [16, 64), 2.6 in [4, 16) (floor(1/s) stands for −1.0: coarse).
//   Shiftmax (n=15, k_out=16): absolute error per probability 0.018 (1/s ≥ 128), 0.024 [32, 128),
//     0.027 [16, 32), 0.059 [8, 16), 0.107 [4, 8); while len · floor(1/s) · 2^n < 2^31 (the sum
//     saturates beyond, as in the official code).
//   ShiftGELU official (n=23, token max): |ŷ − GELU(x)| ≤ 0.084 · max(1, |x|) for A in [4, 8]
//     only; 0.29 for A < 1 and 0.51 for A > 12. [ours] n=10, per-element max: 0.027 for A < 4,
//     0.059 for A in [4, 16), 0.18 for A in [16, 64).
//   I-LayerNorm (16-bit codes): |ŷ − (x−μ)/σ| ≤ 1.064 · [(1/2 + |ŷ|/√C)/σ_int + |ŷ|√C σ_int/2^31
//     + √C/2^30], σ_int the input's standard deviation in codes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/status.h"

namespace vitq {

/// floor(a / b) for b != 0, any signs.
constexpr int64_t floorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/// floor(sqrt(v)), exact for every uint64: Newton's k ← floor((k + floor(v/k)) / 2) from
/// k0 = 2^ceil(bitlen(v)/2) ≥ sqrt(v), stopping when k stops decreasing (I-BERT's start; §1.5 [ours]).
uint64_t isqrt(uint64_t v);

/// The official I-ViT form: k = 2^16, then ten times k ← floor((k + floor(v/k)) / 2). Equals isqrt
/// only on a middle band of v (the tests pin it); kept to compare against the QAT code.
uint64_t isqrtFixed10(uint64_t v);

// ---- ShiftExp (§1.2) ----------------------------------------------------------------------------

struct ShiftExpPlan {
  int32_t x0 = -1;  ///< floor(−1/s): −1.0 in the input's integer domain
  int n = 15;       ///< the exponent is clamped at −n; output codes have scale s / 2^n
};

/// Fails unless s > 0, 0 ≤ n ≤ 30 and floor(1/s) · 2^n < 2^31 (the output must fit int32).
StatusOr<ShiftExpPlan> planShiftExp(double s, int n);

/// e ≈ exp(x · s) in codes of scale s / 2^n, for x ≤ 0 (positive x count as 0). In [0, −x0 · 2^n].
int32_t shiftExp(int64_t x, const ShiftExpPlan& p);

// ---- Shiftmax (§1.3) ----------------------------------------------------------------------------

struct ShiftmaxPlan {
  ShiftExpPlan exp;
  int out_bits = 16;  ///< k_out; outputs lie in [0, 2^(k_out−1) − 1] with scale 2^−(k_out−1)
  double outScale() const;
};

/// Defaults follow the PyTorch DeiT/ViT model (n = 15, k_out = 16); the TVM kernel uses n = 16,
/// k_out = 8 (§1.3 notes the inconsistency). k_out in [2, 32].
StatusOr<ShiftmaxPlan> planShiftmax(double in_scale, int n = 15, int out_bits = 16);

/// Integer softmax of one row of \p len codes (the last axis).
void shiftmaxRow(const int32_t* x, size_t len, const ShiftmaxPlan& p, int32_t* out);

// ---- ShiftGELU (§1.4) ---------------------------------------------------------------------------

struct ShiftGeluPlan {
  ShiftExpPlan exp;  ///< at scale 1.702 · s (the constant folded into x0), n = 23 officially
  double in_scale = 1;
  bool per_element_max = false;  ///< see planShiftGelu
  double outScale() const { return in_scale / 128; }  ///< s · 2^−7
};

/// The defaults are the official recipe (n = 23, m = the token's max). Fails when s is too small
/// for n (n = 23: floor(1/(1.702 s)) ≥ 256, i.e. s < ~0.0023).
/// The official recipe is accurate only in a narrow band of scales: its normalizer
/// floor((2^31 − 1)/(a + b)) is coarse when floor(1/(1.702 s)) · 2^23 nears 2^31 (small s), and
/// exponents below 2^−n are clamped, so with a token max above ~9.4 every x with 1.702(max − x)
/// beyond the clamp gets σ = 0.5. [ours] n = 10 with per_element_max (m = max(x, 0), both
/// exponents −1.702|x|) keeps the sigmoid's 7 bits accurate over every scale (tests and
/// docs/integer-kernels.md give both bounds).
StatusOr<ShiftGeluPlan> planShiftGelu(double in_scale, int n = 23, bool per_element_max = false);

/// GELU(x) ≈ x · σ(1.702 x) on one token's channels; outputs have scale s · 2^−7 (saturated to int32).
void shiftGeluRow(const int32_t* x, size_t len, const ShiftGeluPlan& p, int32_t* out);

// ---- I-LayerNorm (§1.5) -------------------------------------------------------------------------

struct ILayerNormPlan {
  std::vector<int64_t> bias;      ///< B_c = floor((β_c / γ_c) / (√C / 2^30))
  std::vector<double> out_scale;  ///< γ_c · √C / 2^30 (negative with γ_c)
  size_t channels() const { return bias.size(); }
};

/// Folds γ and β (one per channel, C ≥ 1). Fails on γ_c == 0 (β_c cannot ride on a zero scale)
/// or a non-finite value.
StatusOr<ILayerNormPlan> planILayerNorm(const std::vector<float>& gamma, const std::vector<float>& beta);

/// LayerNorm of one row of C codes (input scale drops out). Output codes are int64: with a small
/// |γ_c| the folded bias β_c/γ_c · 2^30/√C exceeds int32 (feed them to requantize()).
/// Valid for |x| ≤ 2^20 and C ≤ 2^20 (Σ (x−μ)² then fits int64). eps is ignored, as in I-ViT.
void iLayerNormRow(const int32_t* x, const ILayerNormPlan& p, int64_t* out);

}  // namespace vitq
